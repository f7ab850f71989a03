//! Grouping texts into model runs.
//!
//! A batch is padded to its longest text, so mixing lengths pays for padding (measured on
//! this CPU: unsorted batches waste 3-4x compute). Texts are therefore sorted by token count
//! and cut into runs of similar length, each bounded by a number of texts, by a number of
//! padded tokens, and by the share of padding. The token bound also bounds the time between two
//! runs (interrupts are checked there) and the size the ONNX Runtime arena grows to. The padding
//! bound exists because batching saves little on a CPU (about 7% of the time per text with
//! all-MiniLM-L6-v2, measured), so a run that pads more than that costs more than it saves:
//! a text that would push the run's padding over the bound starts a new run instead.

/// Limits of one model run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Texts per run (1 = one text at a time).
    pub max_texts: usize,
    /// Padded tokens per run (texts x longest); a single longer text still runs alone.
    pub max_tokens: usize,
    /// Padding allowed in a run, in percent of its real tokens (0 = only equal lengths batch).
    pub max_padding_percent: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits { max_texts: 8, max_tokens: 2048, max_padding_percent: 5 }
    }
}

/// Splits texts with the given token counts into runs: indices into `lengths`, shortest texts
/// first, each run within `limits`. Every index appears exactly once.
pub fn plan(lengths: &[usize], limits: RunLimits) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut real = 0usize;
    for i in order {
        // Sorted ascending, so this text is the longest of the run it would join.
        let padded = (current.len() + 1) * lengths[i];
        let padding_bound = (real + lengths[i]) * (100 + limits.max_padding_percent);
        if !current.is_empty()
            && (current.len() >= limits.max_texts.max(1) || padded > limits.max_tokens || padded * 100 > padding_bound)
        {
            runs.push(std::mem::take(&mut current));
            real = 0;
        }
        current.push(i);
        real += lengths[i];
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
        let runs = plan(&lengths, RunLimits { max_texts: 3, max_tokens: 200, max_padding_percent: 100 });
        assert_eq!(runs, vec![vec![1, 6, 3], vec![4, 0, 5], vec![2]]);
        let mut all: Vec<usize> = runs.concat();
        all.sort();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
    }

    #[test]
    fn one_text_per_run_and_empty_input() {
        assert_eq!(plan(&[5, 1], RunLimits { max_texts: 1, ..RunLimits::default() }), vec![vec![1], vec![0]]);
        assert!(plan(&[], RunLimits::default()).is_empty());
    }

    #[test]
    fn token_bound_splits_long_texts() {
        let runs = plan(&[256, 256, 256, 256], RunLimits { max_tokens: 600, ..RunLimits::default() });
        assert_eq!(runs, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn padding_bound_keeps_uneven_lengths_apart() {
        // 10 + 10 + 11 = 31 real tokens padded to 33 (6.5% padding): over 5%, so 11 starts a run.
        let lengths = [10, 11, 10, 40, 41, 40];
        let runs = plan(&lengths, RunLimits::default());
        assert_eq!(runs, vec![vec![0, 2], vec![1], vec![3, 5, 4]]);
        // 40 + 40 + 41 = 121 padded to 123 (1.7%): within 5%. With 100% allowed the short ones
        // batch together, but 40 after them would still more than double the run.
        let loose = plan(&lengths, RunLimits { max_padding_percent: 100, ..RunLimits::default() });
        assert_eq!(loose, vec![vec![0, 2, 1], vec![3, 5, 4]]);
    }
}
