//! Stage 2: tokenized texts -> the rectangular int64 arrays a transformer takes.
//!
//! Each batch is padded to its own longest text (pad id 0, mask 0), so a batch of short texts
//! costs what short texts cost.

use ndarray::Array2;

use crate::error::{EngineError, Result};
use crate::reserve;
use crate::tokenize::Tokens;

/// `input_ids`, `attention_mask` and `token_type_ids`, each `[batch, longest]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub ids: Array2<i64>,
    pub mask: Array2<i64>,
    pub type_ids: Array2<i64>,
}

/// Pads a batch into the model's inputs. The three arrays are reserved fallibly: their size is
/// the batch's texts times its longest text, which the run limits bound but a caller may not.
pub fn build(batch: &[&Tokens]) -> Result<Inputs> {
    let longest = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0);
    let shape = (batch.len(), longest);
    let cells = reserve::product::<i64>(batch.len(), longest, "the model's input tensors")?;
    let array = || -> Result<Array2<i64>> {
        let zeros = reserve::filled(cells, 0i64, "the model's input tensors")?;
        Array2::from_shape_vec(shape, zeros).map_err(|e| EngineError::Tokenize(e.to_string()))
    };
    let (mut ids, mut mask, mut type_ids) = (array()?, array()?, array()?);
    for (row, t) in batch.iter().enumerate() {
        for (col, (&id, &ty)) in t.ids.iter().zip(&t.type_ids).enumerate() {
            ids[[row, col]] = i64::from(id);
            mask[[row, col]] = 1;
            type_ids[[row, col]] = i64::from(ty);
        }
    }
    Ok(Inputs { ids, mask, type_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_longest_text_with_zero_mask() {
        let a = Tokens { ids: vec![101, 7, 102], type_ids: vec![0, 0, 0], truncated: false };
        let b = Tokens { ids: vec![101, 102], type_ids: vec![0, 0], truncated: false };
        let x = build(&[&a, &b]).unwrap();
        assert_eq!(x.ids.shape(), &[2, 3]);
        assert_eq!(x.ids.row(1).to_vec(), vec![101, 102, 0]);
        assert_eq!(x.mask.row(0).to_vec(), vec![1, 1, 1]);
        assert_eq!(x.mask.row(1).to_vec(), vec![1, 1, 0]);
    }
}
