# pg_embed: the commands a developer and CI use. See README.md.
SHELL := /bin/bash
ARGS ?=

.PHONY: setup model-mpnet demo test test-engine test-pg test-regress test-reliability psql stop install package

## setup: idempotent set-up (packages, pgvector, cargo-pgrx, ONNX Runtime, models, build, dev cluster)
setup:
	scripts/setup.sh

## model-mpnet: add all-mpnet-base-v2 to the model folder (optional: 404 MB download, not in CI)
model-mpnet:
	scripts/fetch-models.sh --mpnet

## demo: set up, embed the Python FAQ, build an HNSW index, run three similarity queries
demo: setup
	scripts/demo.sh

## test: set up (without the dev cluster), then every test: engine (cargo test), #[pg_test], SQL golden
## tests, reliability (fuzzing, cancellation)
test:
	scripts/setup.sh --no-cluster
	scripts/test.sh

test-engine test-pg test-regress test-reliability:
	scripts/test.sh $(@:test-%=%)

install:
	scripts/install.sh

## package: a Debian package (postgresql-15-pg-embed_<version>-1_amd64.deb) in $PGE_HOME/dist
package: setup
	scripts/package.sh

## psql: a psql prompt on the dev cluster; pass arguments with ARGS='-c "SELECT 1"' or ARGS='-f file.sql'
psql:
	scripts/cluster.sh psql $(ARGS)

## stop: stop the dev cluster
stop:
	scripts/cluster.sh stop
