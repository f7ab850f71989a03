//! Stage 4: the model's output -> one vector per text.

use ndarray::{ArrayView2, ArrayViewD, Axis};

use crate::catalog::PoolingKind;

/// Pools a `[batch, tokens, dims]` (mean, cls) or `[batch, dims]` (pooled) output.
/// Returns `None` when the output's shape does not fit the pooling kind.
pub fn pool(kind: PoolingKind, output: &ArrayViewD<'_, f32>, mask: &ArrayView2<'_, i64>) -> Option<Vec<Vec<f32>>> {
    match kind {
        PoolingKind::Pooled => {
            let out = output.view().into_dimensionality::<ndarray::Ix2>().ok()?;
            Some(out.outer_iter().map(|row| row.to_vec()).collect())
        }
        PoolingKind::Cls => {
            let out = output.view().into_dimensionality::<ndarray::Ix3>().ok()?;
            Some(out.outer_iter().map(|states| states.row(0).to_vec()).collect())
        }
        PoolingKind::Mean => {
            let out = output.view().into_dimensionality::<ndarray::Ix3>().ok()?;
            if out.len_of(Axis(0)) != mask.nrows() || out.len_of(Axis(1)) != mask.ncols() {
                return None;
            }
            Some(
                out.outer_iter()
                    .zip(mask.outer_iter())
                    .map(|(states, m)| {
                        let mut sum = vec![0f32; states.ncols()];
                        let mut count = 0f32;
                        for (token, &keep) in states.outer_iter().zip(m.iter()) {
                            if keep != 0 {
                                count += 1.0;
                                for (s, x) in sum.iter_mut().zip(token.iter()) {
                                    *s += *x;
                                }
                            }
                        }
                        let count = count.max(1e-9);
                        sum.iter_mut().for_each(|s| *s /= count);
                        sum
                    })
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array3};

    #[test]
    fn mean_ignores_padding() {
        let out = Array3::from_shape_vec((1, 3, 2), vec![1.0, 2.0, 3.0, 4.0, 100.0, 100.0]).unwrap().into_dyn();
        let mask = array![[1i64, 1, 0]];
        let v = pool(PoolingKind::Mean, &out.view(), &mask.view()).unwrap();
        assert_eq!(v, vec![vec![2.0, 3.0]]);
    }

    #[test]
    fn cls_takes_first_token_and_pooled_passes_through() {
        let out = Array3::from_shape_vec((1, 2, 2), vec![5.0, 6.0, 7.0, 8.0]).unwrap().into_dyn();
        let mask = array![[1i64, 1]];
        assert_eq!(pool(PoolingKind::Cls, &out.view(), &mask.view()).unwrap(), vec![vec![5.0, 6.0]]);
        let pooled = array![[0.5f32, 0.25]].into_dyn();
        assert_eq!(pool(PoolingKind::Pooled, &pooled.view(), &mask.view()).unwrap(), vec![vec![0.5, 0.25]]);
        assert!(pool(PoolingKind::Mean, &pooled.view(), &mask.view()).is_none(), "wrong rank is refused");
    }
}
