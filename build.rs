//! Bakes the set-up's install paths in as the defaults of pg_embed.onnxruntime_library and
//! pg_embed.model_dir (scripts/install.sh passes them); plain builds get generic defaults.
fn main() {
    for (var, fallback) in [
        ("PG_EMBED_DEFAULT_ORT_LIB", "/usr/lib/libonnxruntime.so"),
        ("PG_EMBED_DEFAULT_MODEL_DIR", "/var/lib/pg_embed/models"),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        let value = std::env::var(var).unwrap_or_else(|_| fallback.to_string());
        println!("cargo:rustc-env={var}={value}");
    }
}
