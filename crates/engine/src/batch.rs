//! Grouping texts into model runs.
//!
//! A batch is padded to its longest text, so mixing lengths pays for padding (measured on
//! this CPU: unsorted batches waste 3-4x compute). Texts are therefore sorted by token count
//! and cut into runs of similar length, each bounded by a number of texts and by a number of
//! padded tokens. The token bound also bounds the time between two runs (interrupts are
//! checked there) and the size the ONNX Runtime arena grows to.

/// Limits of one model run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Texts per run (1 = one text at a time).
    pub max_texts: usize,
    /// Padded tokens per run (texts x longest); a single longer text still runs alone.
    pub max_tokens: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits { max_texts: 8, max_tokens: 2048 }
    }
}

/// Splits texts with the given token counts into runs: indices into `lengths`, shortest texts
/// first, each run within `limits`. Every index appears exactly once.
pub fn plan(lengths: &[usize], limits: RunLimits) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so this text is the longest of the run it would join.
        let padded = (current.len() + 1) * lengths[i];
        if !current.is_empty() && (current.len() >= limits.max_texts.max(1) || padded > limits.max_tokens) {
            runs.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_length_and_respects_both_limits() {
        let lengths = [50, 3, 400, 4, 5, 60, 3];
        let runs = plan(&lengths, RunLimits { max_texts: 3, max_tokens: 200 });
        assert_eq!(runs, vec![vec![1, 6, 3], vec![4, 0, 5], vec![2]]);
        let mut all: Vec<usize> = runs.concat();
        all.sort();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
    }

    #[test]
    fn one_text_per_run_and_empty_input() {
        assert_eq!(plan(&[5, 1], RunLimits { max_texts: 1, max_tokens: 10_000 }), vec![vec![1], vec![0]]);
        assert!(plan(&[], RunLimits::default()).is_empty());
    }

    #[test]
    fn token_bound_splits_long_texts() {
        let runs = plan(&[256, 256, 256, 256], RunLimits { max_texts: 8, max_tokens: 600 });
        assert_eq!(runs, vec![vec![0, 1], vec![2, 3]]);
    }
}
