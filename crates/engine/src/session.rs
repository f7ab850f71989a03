//! Stage 3: running the model with ONNX Runtime.
//!
//! Which optional inputs a model takes (`token_type_ids`) is read from the session, not
//! assumed; the output to pool is found by name, falling back to the first output.

use std::path::Path;

use ndarray::ArrayD;
use ort::session::builder::GraphOptimizationLevel;
use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;

use crate::error::{EngineError, Result};
use crate::signals::with_signals_blocked;
use crate::tensors::Inputs;

/// Knobs of an ONNX Runtime session. The defaults are what suits one PostgreSQL backend.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOptions {
    /// Threads inside one run. One per backend: parallelism comes from backends and workers.
    pub intra_threads: usize,
    /// Let idle ORT threads spin waiting for work (burns CPU other backends could use).
    pub spinning: bool,
    /// 0 = disabled, 1 = basic, 2 = extended, 3 = all.
    pub optimization_level: u8,
    /// ONNX Runtime's CPU memory arena: faster large runs, but it never shrinks, so the backend
    /// keeps the memory of its largest run.
    pub arena: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { intra_threads: 1, spinning: false, optimization_level: 3, arena: true }
    }
}

/// Whether an ONNX file holds dynamically quantized MatMuls: its bytes name the operator
/// (`DynamicQuantizeLinear` or `MatMulInteger`; an operator type is stored as plain text). Only
/// the first 4 MiB are read: the graph's nodes are written before its weights (in the int8
/// files of the set-up the first such name is within 32 kB), and a graph whose names lie further
/// in only keeps the fusion, for any slot it is in. A file that cannot be read counts as not
/// quantized; loading it reports the error.
fn is_quantized_graph(path: &Path) -> bool {
    use std::io::Read;
    let mut bytes = Vec::new();
    let Ok(file) = std::fs::File::open(path) else { return false };
    if file.take(4 << 20).read_to_end(&mut bytes).is_err() {
        return false;
    }
    [&b"DynamicQuantizeLinear"[..], &b"MatMulInteger"[..]]
        .iter()
        .any(|op| memchr::memmem::find(&bytes, op).is_some())
}

pub struct OnnxSession {
    model: String,
    session: Session,
    takes_type_ids: bool,
    output_index: usize,
}

impl OnnxSession {
    /// Builds a session from an ONNX file. `output` names the output to read later. For an
    /// int8 graph (one with dynamically quantized MatMuls, whichever precision slot the file
    /// is in) ONNX Runtime's SkipLayerNormFusion is left out: on such graphs the fused
    /// SkipLayerNormalization is slow, and without it all-MiniLM-L6-v2's int8 takes 2.2-2.4x
    /// less CPU than fp32 instead of 1.7-1.8x (benches/README.md, Retrieval quality). fp32
    /// graphs run the same either way. Deciding by the graph, not the slot, keeps one file's
    /// vectors the same wherever it is installed.
    pub fn load(env: &Environment, model: &str, path: &Path, output: &str, opts: &SessionOptions) -> Result<OnnxSession> {
        crate::files::check_readable(model, path)?;
        let quantized = is_quantized_graph(path);
        let invalid = |reason: String| EngineError::ModelFileInvalid {
            model: model.to_string(),
            path: path.to_path_buf(),
            reason,
        };
        let level = match opts.optimization_level {
            0 => GraphOptimizationLevel::Disable,
            1 => GraphOptimizationLevel::Level1,
            2 => GraphOptimizationLevel::Level2,
            _ => GraphOptimizationLevel::All,
        };
        // ORT starts its threads while building the session: keep the host's signals off them.
        let session = with_signals_blocked(|| -> ort::Result<Session> {
            let mut builder = Session::builder(env)?;
            if !opts.arena {
                // Registering the CPU provider explicitly is how the arena is turned off.
                builder = builder.with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])?;
            }
            if quantized {
                builder = builder.with_disabled_optimizers("SkipLayerNormFusion")?;
            }
            builder
                .with_intra_threads(opts.intra_threads.max(1))?
                .with_inter_threads(1)?
                .with_intra_op_spinning(opts.spinning)?
                .with_inter_op_spinning(false)?
                .with_optimization_level(level)?
                .commit_from_file(path)
        })
        .map_err(|e| invalid(e.to_string()))?;

        let input_names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !input_names.contains(&required) {
                return Err(EngineError::ModelMismatch {
                    model: model.to_string(),
                    reason: format!("the graph has no input \"{required}\" (inputs: {})", input_names.join(", ")),
                });
            }
        }
        let takes_type_ids = input_names.contains(&"token_type_ids");
        let output_index = session.outputs().iter().position(|o| o.name() == output).unwrap_or(0);
        Ok(OnnxSession { model: model.to_string(), session, takes_type_ids, output_index })
    }

    /// Runs one batch and returns the chosen output, owned.
    pub fn run(&mut self, x: &Inputs) -> Result<ArrayD<f32>> {
        let fail = |e: ort::Error| EngineError::Inference { model: self.model.clone(), reason: e.to_string() };
        let ids = TensorRef::from_array_view(x.ids.view()).map_err(fail)?;
        let mask = TensorRef::from_array_view(x.mask.view()).map_err(fail)?;
        let model = self.model.clone();
        let idx = self.output_index;
        let outputs = if self.takes_type_ids {
            let types = TensorRef::from_array_view(x.type_ids.view()).map_err(fail)?;
            self.session.run(ort::inputs! {"input_ids" => ids, "attention_mask" => mask, "token_type_ids" => types})
        } else {
            self.session.run(ort::inputs! {"input_ids" => ids, "attention_mask" => mask})
        }
        .map_err(|e| {
            let reason = e.to_string();
            if reason.contains("out of data bounds") {
                // A token id past the model's embedding table: the tokenizer is another model's.
                EngineError::ModelMismatch {
                    model: model.clone(),
                    reason: format!("its tokenizer produced token ids the model does not have ({reason})"),
                }
            } else {
                EngineError::Inference { model: model.clone(), reason }
            }
        })?;
        let array = outputs[idx]
            .try_extract_array::<f32>()
            .map_err(|e| EngineError::Inference { model, reason: e.to_string() })?;
        Ok(array.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::is_quantized_graph;

    #[test]
    fn a_graph_is_quantized_when_it_names_a_quantized_operator() {
        let dir = std::env::temp_dir().join(format!("pg_embed_quantized_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let int8 = dir.join("int8.onnx");
        let fp32 = dir.join("fp32.onnx");
        std::fs::write(&int8, b"\x08\x07\x12\x0dMatMulInteger\x3a\x00").unwrap();
        std::fs::write(&fp32, b"\x08\x07\x12\x06MatMul\x3a\x00LayerNormalization").unwrap();
        assert!(is_quantized_graph(&int8));
        assert!(!is_quantized_graph(&fp32));
        assert!(!is_quantized_graph(&dir.join("missing.onnx")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
