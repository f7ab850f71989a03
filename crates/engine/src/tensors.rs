//! Stage 2: tokenized texts -> the rectangular int64 arrays a transformer takes.
//!
//! Each batch is padded to its own longest text (pad id 0, mask 0), so a batch of short texts
//! costs what short texts cost.

use ndarray::Array2;

use crate::tokenize::Tokens;

/// `input_ids`, `attention_mask` and `token_type_ids`, each `[batch, longest]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub ids: Array2<i64>,
    pub mask: Array2<i64>,
    pub type_ids: Array2<i64>,
}

pub fn build(batch: &[Tokens]) -> Inputs {
    let longest = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0);
    let shape = (batch.len(), longest);
    let mut ids = Array2::<i64>::zeros(shape);
    let mut mask = Array2::<i64>::zeros(shape);
    let mut type_ids = Array2::<i64>::zeros(shape);
    for (row, t) in batch.iter().enumerate() {
        for (col, (&id, &ty)) in t.ids.iter().zip(&t.type_ids).enumerate() {
            ids[[row, col]] = id;
            mask[[row, col]] = 1;
            type_ids[[row, col]] = ty;
        }
    }
    Inputs { ids, mask, type_ids }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_longest_text_with_zero_mask() {
        let a = Tokens { ids: vec![101, 7, 102], type_ids: vec![0, 0, 0], truncated: false };
        let b = Tokens { ids: vec![101, 102], type_ids: vec![0, 0], truncated: false };
        let x = build(&[a, b]);
        assert_eq!(x.ids.shape(), &[2, 3]);
        assert_eq!(x.ids.row(1).to_vec(), vec![101, 102, 0]);
        assert_eq!(x.mask.row(0).to_vec(), vec![1, 1, 1]);
        assert_eq!(x.mask.row(1).to_vec(), vec![1, 1, 0]);
    }
}
