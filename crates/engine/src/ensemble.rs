//! Ensembles: several models' vectors in one space.
//!
//! Two models' vector spaces are unrelated even at the same dimension (a coordinate of one means
//! nothing to the other), so an ensemble first maps every member into one common space: the
//! space of a reference model. The map is a matrix `W` (`dims_in` × `dims_out`, applied as
//! `y = x W`) learned from pairs of vectors of the same texts, one from each model:
//!
//! - [`Method::Procrustes`]: the orthogonal `W` that best maps the member's vectors onto the
//!   reference's, `W = U Vᵀ` from the SVD `XᵀY = U Σ Vᵀ` (Schönemann 1966). Rotations keep
//!   lengths and angles, so the member's own geometry is kept; only its orientation changes.
//!   With different dimensions `W` is semi-orthogonal (orthonormal rows or columns).
//! - [`Method::LeastSquares`]: the `W` that minimises `‖XW − Y‖²` plus a small ridge term
//!   (λ‖W‖², λ = [`RIDGE`] · n / dims_in), solved by Cholesky on `XᵀX + λI`. More freedom,
//!   so a closer fit on the sample, and more room to overfit it.
//!
//! The ensemble vector of a text is the normalised weighted sum of the members' projected,
//! normalised vectors ([`combine`]): it lives in the reference's space and has its dimension,
//! so it fits the same `vector(n)` column and index as the reference model's own vectors.
//! The linear algebra runs in f64 with nalgebra.

use nalgebra::DMatrix;

use crate::error::{EngineError, Result};
use crate::normalize::l2_normalize;

/// Ridge strength for least squares, relative to the mean eigenvalue of `XᵀX` for unit
/// vectors (n / dims_in).
pub const RIDGE: f64 = 1e-3;

/// Fewest sample texts a projection is learned from.
pub const MIN_SAMPLE: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Procrustes,
    LeastSquares,
}

impl Method {
    pub fn parse(s: &str) -> Result<Method> {
        match s {
            "procrustes" => Ok(Method::Procrustes),
            "least_squares" => Ok(Method::LeastSquares),
            other => Err(EngineError::EnsembleArgument(format!(
                "method must be 'procrustes' or 'least_squares', not \"{other}\""
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Procrustes => "procrustes",
            Method::LeastSquares => "least_squares",
        }
    }
}

/// A linear map from a member's space (`dims_in`) into the reference's space (`dims_out`);
/// `matrix` is row-major, `dims_in` rows of `dims_out` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub dims_in: usize,
    pub dims_out: usize,
    pub matrix: Vec<f32>,
}

/// How well a learned projection fits: mean cosine between each reference vector and the
/// member's vector of the same text, before projecting (only when the dimensions agree), after
/// (in-sample), and on texts left out of the fit (see [`learn`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub samples: usize,
    pub cosine_before: Option<f64>,
    pub cosine_after: f64,
    pub cosine_held_out: Option<f64>,
}

fn to_matrix(rows: &[Vec<f32>], which: &str) -> Result<DMatrix<f64>> {
    let dims = rows.first().map_or(0, Vec::len);
    if let Some(bad) = rows.iter().find(|r| r.len() != dims) {
        return Err(EngineError::EnsembleArgument(format!(
            "the {which} vectors have different dimensions ({dims} and {})",
            bad.len()
        )));
    }
    Ok(DMatrix::from_fn(rows.len(), dims, |i, j| f64::from(rows[i][j])))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Learns the projection of `source` (a member's vectors) onto `target` (the reference's
/// vectors of the same texts, in the same order), from all of the sample; the fit it reports
/// includes a held-out figure: every fifth pair is left out, a second projection is learned
/// from the rest, and its mean cosine on the pairs left out is what to expect on new texts.
/// (In-sample figures flatter: a 384 × 384 map has 147,456 parameters, and a few hundred
/// texts leave most of them free.)
pub fn learn(method: Method, source: &[Vec<f32>], target: &[Vec<f32>]) -> Result<(Projection, Fit)> {
    if source.len() != target.len() {
        return Err(EngineError::EnsembleArgument(format!(
            "{} member vectors but {} reference vectors",
            source.len(),
            target.len()
        )));
    }
    if source.len() < MIN_SAMPLE {
        return Err(EngineError::SampleTooSmall { rows: source.len(), min: MIN_SAMPLE });
    }
    let projection = solve(method, source, target)?;
    let n = source.len() as f64;
    let mean_after = |p: &Projection, pairs: &mut dyn Iterator<Item = (&Vec<f32>, &Vec<f32>)>| -> Result<f64> {
        let (mut sum, mut count) = (0.0, 0usize);
        for (s, t) in pairs {
            sum += cosine(&p.apply(s)?, t);
            count += 1;
        }
        Ok(sum / count.max(1) as f64)
    };
    let after = mean_after(&projection, &mut source.iter().zip(target))?;
    let before = (projection.dims_in == projection.dims_out)
        .then(|| source.iter().zip(target).map(|(s, t)| cosine(s, t)).sum::<f64>() / n);
    let held_out = if source.len() >= HOLD_OUT_FROM {
        let keep = |i: &usize| i % 5 != 4;
        let pick = |v: &[Vec<f32>], k: bool| -> Vec<Vec<f32>> {
            v.iter().enumerate().filter(|(i, _)| keep(i) == k).map(|(_, x)| x.clone()).collect()
        };
        let p = solve(method, &pick(source, true), &pick(target, true))?;
        Some(mean_after(&p, &mut pick(source, false).iter().zip(&pick(target, false)))?)
    } else {
        None
    };
    Ok((projection, Fit { samples: source.len(), cosine_before: before, cosine_after: after, cosine_held_out: held_out }))
}

/// Fewest sample texts for which a held-out fit is reported.
pub const HOLD_OUT_FROM: usize = 10;

fn solve(method: Method, source: &[Vec<f32>], target: &[Vec<f32>]) -> Result<Projection> {
    let x = to_matrix(source, "member")?;
    let y = to_matrix(target, "reference")?;
    let (n, dims_in, dims_out) = (x.nrows(), x.ncols(), y.ncols());
    if dims_in == 0 || dims_out == 0 {
        return Err(EngineError::EnsembleArgument("vectors of 0 dimensions".into()));
    }
    let w = match method {
        Method::Procrustes => {
            let svd = (x.transpose() * &y).svd(true, true);
            let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
                return Err(EngineError::EnsembleArgument("the SVD did not converge".into()));
            };
            u * v_t
        }
        Method::LeastSquares => {
            let lambda = RIDGE * n as f64 / dims_in as f64;
            let mut gram = x.transpose() * &x;
            for i in 0..dims_in {
                gram[(i, i)] += lambda;
            }
            let Some(chol) = gram.cholesky() else {
                return Err(EngineError::EnsembleArgument("the sample's Gram matrix is not positive definite".into()));
            };
            chol.solve(&(x.transpose() * &y))
        }
    };
    // Row-major: row i holds W[i, 0..dims_out].
    let mut matrix = Vec::with_capacity(dims_in * dims_out);
    for i in 0..dims_in {
        for j in 0..dims_out {
            matrix.push(w[(i, j)] as f32);
        }
    }
    Ok(Projection { dims_in, dims_out, matrix })
}

impl Projection {
    /// Checks that a stored matrix has the shape it claims.
    pub fn new(dims_in: usize, dims_out: usize, matrix: Vec<f32>) -> Result<Projection> {
        if dims_in == 0 || dims_out == 0 || matrix.len() != dims_in * dims_out {
            return Err(EngineError::ProjectionShape {
                reason: format!("{} values do not make a {dims_in} × {dims_out} matrix", matrix.len()),
            });
        }
        if matrix.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::ProjectionShape { reason: "the matrix holds NaN or infinite values".into() });
        }
        Ok(Projection { dims_in, dims_out, matrix })
    }

    /// `x W`.
    pub fn apply(&self, x: &[f32]) -> Result<Vec<f32>> {
        if x.len() != self.dims_in {
            return Err(EngineError::ProjectionShape {
                reason: format!("it maps {} dimensions but the model's vectors have {}", self.dims_in, x.len()),
            });
        }
        let mut out = vec![0f32; self.dims_out];
        for (xi, row) in x.iter().zip(self.matrix.chunks_exact(self.dims_out)) {
            for (o, w) in out.iter_mut().zip(row) {
                *o += xi * w;
            }
        }
        Ok(out)
    }
}

/// Checks an ensemble's members and weights; returns the weights to use (equal ones when
/// `weights` is None).
pub fn check_members(models: &[&str], weights: Option<&[Option<f32>]>) -> Result<Vec<f32>> {
    if models.is_empty() {
        return Err(EngineError::EnsembleArgument("an ensemble needs at least one model".into()));
    }
    for (i, m) in models.iter().enumerate() {
        if models[..i].contains(m) {
            return Err(EngineError::EnsembleArgument(format!("model \"{m}\" is listed twice")));
        }
    }
    let Some(weights) = weights else {
        return Ok(vec![1.0; models.len()]);
    };
    if weights.len() != models.len() {
        return Err(EngineError::EnsembleArgument(format!(
            "{} models but {} weights",
            models.len(),
            weights.len()
        )));
    }
    let mut out = Vec::with_capacity(weights.len());
    for w in weights {
        match w {
            Some(w) if w.is_finite() && *w >= 0.0 => out.push(*w),
            Some(w) => return Err(EngineError::EnsembleArgument(format!("weight {w} is not a finite number ≥ 0"))),
            None => return Err(EngineError::EnsembleArgument("a weight is NULL".into())),
        }
    }
    if out.iter().all(|w| *w == 0.0) {
        return Err(EngineError::EnsembleArgument("every weight is 0".into()));
    }
    Ok(out)
}

/// The ensemble vector: Σ wᵢ · normalise(vᵢ), normalised. Every `vᵢ` must already be in the
/// reference's space (projected), all of one dimension.
pub fn combine(members: &[(Vec<f32>, f32)]) -> Result<Vec<f32>> {
    let dims = members.first().map_or(0, |m| m.0.len());
    let mut sum = vec![0f32; dims];
    for (v, w) in members {
        if v.len() != dims {
            return Err(EngineError::ProjectionShape {
                reason: format!("members give {dims} and {} dimensions in the common space", v.len()),
            });
        }
        let mut v = v.clone();
        l2_normalize(&mut v);
        for (s, x) in sum.iter_mut().zip(&v) {
            *s += w * x;
        }
    }
    l2_normalize(&mut sum);
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random generator (xorshift), so the tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
        fn unit(&mut self, d: usize) -> Vec<f32> {
            let mut v: Vec<f32> = (0..d).map(|_| self.next()).collect();
            l2_normalize(&mut v);
            v
        }
    }

    /// A random orthogonal matrix: Q of the QR decomposition of a random one.
    fn rotation(d: usize, rng: &mut Rng) -> DMatrix<f64> {
        let a = DMatrix::from_fn(d, d, |_, _| f64::from(rng.next()));
        a.qr().q()
    }

    fn times(v: &[f32], m: &DMatrix<f64>) -> Vec<f32> {
        (0..m.ncols()).map(|j| v.iter().enumerate().map(|(i, x)| f64::from(*x) * m[(i, j)]).sum::<f64>() as f32).collect()
    }

    #[test]
    fn procrustes_recovers_a_known_rotation() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let d = 24;
        let r = rotation(d, &mut rng);
        let x: Vec<Vec<f32>> = (0..200).map(|_| rng.unit(d)).collect();
        let y: Vec<Vec<f32>> = x.iter().map(|v| times(v, &r)).collect();
        let (p, fit) = learn(Method::Procrustes, &x, &y).unwrap();
        assert_eq!((p.dims_in, p.dims_out), (d, d));
        let worst = (0..d * d).map(|k| (f64::from(p.matrix[k]) - r[(k / d, k % d)]).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-4, "largest difference from the rotation: {worst}");
        assert!(fit.cosine_after > 0.99999, "{fit:?}");
        assert!(fit.cosine_held_out.unwrap() > 0.99999, "{fit:?}");
        assert!(fit.cosine_before.unwrap() < 0.5, "{fit:?}");
    }

    #[test]
    fn procrustes_result_is_orthogonal_under_noise() {
        let mut rng = Rng(42);
        let d = 16;
        let r = rotation(d, &mut rng);
        let x: Vec<Vec<f32>> = (0..300).map(|_| rng.unit(d)).collect();
        let y: Vec<Vec<f32>> = x
            .iter()
            .map(|v| times(v, &r).iter().map(|a| a + 0.05 * rng.next()).collect())
            .collect();
        let (p, fit) = learn(Method::Procrustes, &x, &y).unwrap();
        let w = DMatrix::from_row_slice(d, d, &p.matrix.iter().map(|v| f64::from(*v)).collect::<Vec<_>>());
        let err = (w.transpose() * &w - DMatrix::identity(d, d)).abs().max();
        assert!(err < 1e-5, "WᵀW differs from I by {err}");
        assert!(fit.cosine_after > 0.95, "{fit:?}");
        // Orthogonal maps keep lengths.
        let v = rng.unit(d);
        let n: f32 = p.apply(&v).unwrap().iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "{n}");
    }

    #[test]
    fn least_squares_recovers_a_general_linear_map_between_dimensions() {
        let mut rng = Rng(7);
        let (din, dout) = (12, 8);
        let a = DMatrix::from_fn(din, dout, |_, _| f64::from(rng.next()));
        let x: Vec<Vec<f32>> = (0..400).map(|_| rng.unit(din)).collect();
        let y: Vec<Vec<f32>> = x.iter().map(|v| times(v, &a)).collect();
        let (p, fit) = learn(Method::LeastSquares, &x, &y).unwrap();
        assert_eq!((p.dims_in, p.dims_out, p.matrix.len()), (din, dout, din * dout));
        assert_eq!(fit.cosine_before, None);
        // The ridge term shrinks W a little: allow 1%.
        let worst = (0..din * dout).map(|k| (f64::from(p.matrix[k]) - a[(k / dout, k % dout)]).abs()).fold(0.0, f64::max);
        assert!(worst < 0.01, "largest difference from the map: {worst}");
        assert!(fit.cosine_after > 0.9999, "{fit:?}");
    }

    /// Unrelated pairs: with few samples per dimension the in-sample fit looks good and the
    /// held-out one shows there is nothing to learn.
    #[test]
    fn held_out_fit_exposes_overfitting() {
        let mut rng = Rng(5);
        let d = 32;
        let x: Vec<Vec<f32>> = (0..40).map(|_| rng.unit(d)).collect();
        let y: Vec<Vec<f32>> = (0..40).map(|_| rng.unit(d)).collect();
        let (_, fit) = learn(Method::Procrustes, &x, &y).unwrap();
        assert!(fit.cosine_after > 0.5, "{fit:?}");
        assert!(fit.cosine_held_out.unwrap().abs() < 0.2, "{fit:?}");
        let (_, small) = learn(Method::Procrustes, &x[..9], &y[..9]).unwrap();
        assert_eq!(small.cosine_held_out, None);
    }

    #[test]
    fn procrustes_between_dimensions_is_semi_orthogonal() {
        let mut rng = Rng(11);
        let x: Vec<Vec<f32>> = (0..100).map(|_| rng.unit(10)).collect();
        let y: Vec<Vec<f32>> = (0..100).map(|_| rng.unit(6)).collect();
        let (p, _) = learn(Method::Procrustes, &x, &y).unwrap();
        let w = DMatrix::from_row_slice(10, 6, &p.matrix.iter().map(|v| f64::from(*v)).collect::<Vec<_>>());
        let err = (w.transpose() * &w - DMatrix::identity(6, 6)).abs().max();
        assert!(err < 1e-5, "columns are not orthonormal: {err}");
    }

    #[test]
    fn bad_samples_are_refused() {
        let one = vec![vec![1.0f32, 0.0]];
        assert!(matches!(learn(Method::Procrustes, &one, &one), Err(EngineError::SampleTooSmall { rows: 1, min: 2 })));
        let two = vec![vec![1.0f32, 0.0], vec![0.0, 1.0]];
        let ragged = vec![vec![1.0f32, 0.0], vec![0.0]];
        assert!(matches!(learn(Method::Procrustes, &two, &ragged), Err(EngineError::EnsembleArgument(_))));
        assert!(matches!(learn(Method::Procrustes, &two, &one), Err(EngineError::EnsembleArgument(_))));
        assert!(Method::parse("svd").is_err());
        assert_eq!(Method::parse("least_squares").unwrap().as_str(), "least_squares");
    }

    #[test]
    fn stored_projections_are_checked() {
        assert!(matches!(Projection::new(2, 2, vec![1.0; 3]), Err(EngineError::ProjectionShape { .. })));
        assert!(matches!(Projection::new(1, 1, vec![f32::NAN]), Err(EngineError::ProjectionShape { .. })));
        let p = Projection::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(p.apply(&[1.0, 1.0]).unwrap(), vec![5.0, 7.0, 9.0]);
        assert!(matches!(p.apply(&[1.0, 1.0, 1.0]), Err(EngineError::ProjectionShape { .. })));
    }

    #[test]
    fn members_and_weights_are_checked() {
        assert_eq!(check_members(&["a", "b"], None).unwrap(), vec![1.0, 1.0]);
        assert_eq!(check_members(&["a", "b"], Some(&[Some(2.0), Some(0.0)])).unwrap(), vec![2.0, 0.0]);
        assert!(check_members(&[], None).is_err());
        assert!(check_members(&["a", "a"], None).is_err());
        assert!(check_members(&["a", "b"], Some(&[Some(1.0)])).is_err());
        assert!(check_members(&["a"], Some(&[Some(-1.0)])).is_err());
        assert!(check_members(&["a"], Some(&[Some(f32::NAN)])).is_err());
        assert!(check_members(&["a"], Some(&[None])).is_err());
        assert!(check_members(&["a", "b"], Some(&[Some(0.0), Some(0.0)])).is_err());
    }

    #[test]
    fn combine_is_a_normalised_weighted_sum_of_normalised_members() {
        let v = combine(&[(vec![2.0, 0.0], 1.0), (vec![0.0, 5.0], 1.0)]).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((v[0] - h).abs() < 1e-6 && (v[1] - h).abs() < 1e-6, "{v:?}");
        let v = combine(&[(vec![1.0, 0.0], 3.0), (vec![0.0, 1.0], 0.0)]).unwrap();
        assert_eq!(v, vec![1.0, 0.0]);
        assert!(combine(&[(vec![1.0, 0.0], 1.0), (vec![1.0], 1.0)]).is_err());
    }
}
