//! Embedding functions.

use pgrx::prelude::*;

use crate::error::OrRaise;
use crate::runtime;
use crate::text::Text;
use crate::vector::Vector;

/// Embeds one text as a document with the model routing picks for prose (all-MiniLM-L6-v2
/// by default), as embed_auto does for prose. STABLE, not IMMUTABLE: the model comes from
/// pg_embed.doc_models or the pin, the file from pg_embed.precision.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_doc(body: Text) -> Vector {
    let model = runtime::routing::choose(pg_embed_engine::Role::Doc).or_raise().model;
    let mut out = runtime::embed(&model, &[&body]).or_raise();
    Vector(out.vectors.pop().expect("one text in, one vector out"))
}

extension_sql_file!(
    "../sql/embed_doc.sql",
    name = "embed_doc_comment",
    requires = [embed_doc],
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn embed_doc_returns_a_384_dimension_vector() {
        let dims = Spi::get_one::<i32>("SELECT vector_dims(embed_doc('hello world'))").unwrap();
        assert_eq!(dims, Some(384));
    }

    #[pg_test]
    fn null_in_null_out() {
        let is_null = Spi::get_one::<bool>("SELECT embed_doc(NULL) IS NULL").unwrap();
        assert_eq!(is_null, Some(true));
    }

    /// Every text of the committed reference (an independent Python onnxruntime + tokenizers
    /// pipeline on the same files) must come out of SQL within cosine 0.999.
    #[pg_test]
    fn sql_matches_the_independent_reference() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/reference.json")).unwrap();
        let items = doc["items"].as_array().unwrap();
        assert!(items.len() >= 30);
        let mut min = (f64::MAX, String::new());
        for item in items {
            let text = item["text"].as_str().unwrap();
            let reference = serde_json::to_string(&item["embedding"]).unwrap();
            let cos = Spi::get_one_with_args::<f64>(
                "SELECT 1 - (embed_doc($1) <=> $2::vector)",
                &[text.into(), reference.into()],
            )
            .unwrap()
            .unwrap();
            if cos < min.0 {
                min = (cos, text.chars().take(40).collect());
            }
        }
        pgrx::notice!("minimum cosine to the reference over {} texts: {:.6} ({:?})", items.len(), min.0, min.1);
        eprintln!("minimum cosine to the reference over {} texts through SQL: {:.6}", items.len(), min.0);
        assert!(min.0 >= 0.999, "minimum cosine {:.6} for {:?}", min.0, min.1);
    }
}
