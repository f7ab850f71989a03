//! Which model serves a text: a pure function of its inputs, so every branch is testable.
//!
//! Inputs: the role (code, doc, general), the user's ordered preferences for that role, which
//! models have their files on disk, each model's approximate size, the memory limit and what
//! the backend already holds, and a [`Resources`] snapshot (free memory, load).
//!
//! Policy, for each preferred model in order:
//! 1. its files must be present (else skipped; the caller says so once);
//! 2. it must fit: its size must fit in the memory limit on its own (models already held can
//!    be evicted, so `held_bytes` is reported but does not reject a candidate), and the machine
//!    must have twice its size available, so loading it cannot push the server into swap;
//! 3. it must suit the load: a large model (>= 600 MB) is taken only when the machine is idle
//!    (load per CPU < 0.5); a medium one (>= 150 MB) only below full load (< 1.0); small
//!    models always. The classes follow measured sizes (`benches/code_models.py`): the 12-layer
//!    code models hold 700-760 MB in fp32 and take about 7-8 times all-MiniLM-L6-v2's CPU per
//!    text, the 6-layer CodeBERTa 450-490 MB and about 4 times.
//!
//! The first that passes is chosen. If none passes, the last present model of the list is
//! taken ("a small model when tight"), and failing that the fallback model.

use crate::resources::Resources;

/// A model the policy may consider.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub name: String,
    pub approx_bytes: u64,
    pub present: bool,
}

/// Everything the decision depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub role: crate::role::Role,
    /// Preferred models for the role, best first.
    pub preferences: Vec<Candidate>,
    pub fallback: Option<Candidate>,
    pub memory_limit: u64,
    pub held_bytes: u64,
    pub resources: Resources,
}

/// The decision and why, candidate by candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub model: Option<String>,
    pub reason: String,
    /// `(model, verdict)` for every candidate looked at.
    pub considered: Vec<(String, String)>,
}

pub const LARGE: u64 = 600 << 20;
pub const MEDIUM: u64 = 150 << 20;
const IDLE: f64 = 0.5;
const BUSY: f64 = 1.0;

fn mb(b: u64) -> u64 {
    b >> 20
}

/// Why `c` cannot serve now, or `None` if it can.
fn rejection(c: &Candidate, i: &Inputs) -> Option<String> {
    if !c.present {
        return Some("files not present".into());
    }
    if c.approx_bytes > i.memory_limit {
        return Some(format!("needs ~{} MB, over pg_embed.memory_limit ({} MB)", mb(c.approx_bytes), mb(i.memory_limit)));
    }
    if c.approx_bytes.saturating_mul(2) > i.resources.available_bytes {
        return Some(format!("needs ~{} MB, machine has {} MB available", mb(c.approx_bytes), mb(i.resources.available_bytes)));
    }
    let load = i.resources.load_per_cpu;
    if c.approx_bytes >= LARGE && load >= IDLE {
        return Some(format!("large model, machine not idle (load {load:.2} per CPU)"));
    }
    if c.approx_bytes >= MEDIUM && load >= BUSY {
        return Some(format!("medium model, machine busy (load {load:.2} per CPU)"));
    }
    None
}

pub fn decide(i: &Inputs) -> Decision {
    let mut considered = Vec::new();
    for c in &i.preferences {
        match rejection(c, i) {
            None => {
                considered.push((c.name.clone(), "chosen".into()));
                return Decision {
                    model: Some(c.name.clone()),
                    reason: format!("first preferred {} model that is present and fits", i.role),
                    considered,
                };
            }
            Some(why) => considered.push((c.name.clone(), why)),
        }
    }
    if let Some(last) = i.preferences.iter().rev().find(|c| c.present) {
        return Decision {
            model: Some(last.name.clone()),
            reason: format!("resources are tight: the smallest preferred {} model with files present", i.role),
            considered,
        };
    }
    match &i.fallback {
        Some(f) if f.present => {
            considered.push((f.name.clone(), "fallback".into()));
            Decision {
                model: Some(f.name.clone()),
                reason: format!("no preferred {} model has its files: the fallback model", i.role),
                considered,
            }
        }
        _ => Decision { model: None, reason: format!("no {} model and no fallback model has its files", i.role), considered },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn cand(name: &str, mb: u64, present: bool) -> Candidate {
        Candidate { name: name.into(), approx_bytes: mb * MB, present }
    }

    fn inputs(load: f64, available_mb: u64, limit_mb: u64) -> Inputs {
        Inputs {
            role: crate::role::Role::Code,
            preferences: vec![cand("unixcoder-base", 760, true), cand("codet5p-110m-embedding", 710, true), cand("small", 90, true)],
            fallback: Some(cand("fallback", 90, true)),
            memory_limit: limit_mb * MB,
            held_bytes: 0,
            resources: Resources { available_bytes: available_mb * MB, load_per_cpu: load, cpus: 2 },
        }
    }

    #[test]
    fn idle_machine_with_room_gets_the_first_choice() {
        let d = decide(&inputs(0.1, 16_000, 2048));
        assert_eq!(d.model.as_deref(), Some("unixcoder-base"));
        assert_eq!(d.considered.len(), 1);
    }

    #[test]
    fn medium_load_skips_large_models() {
        let mut i = inputs(0.7, 16_000, 2048);
        i.preferences[1].approx_bytes = 490 * MB; // a medium model second (CodeBERTa's size)
        let d = decide(&i);
        assert_eq!(d.model.as_deref(), Some("codet5p-110m-embedding"));
        assert!(d.considered[0].1.contains("not idle"), "{:?}", d.considered);
    }

    #[test]
    fn busy_machine_gets_the_small_model() {
        let mut i = inputs(1.5, 16_000, 2048);
        i.preferences[1].approx_bytes = 300 * MB;
        let d = decide(&i);
        assert_eq!(d.model.as_deref(), Some("small"));
        assert!(d.considered[1].1.contains("busy"), "{:?}", d.considered);
    }

    #[test]
    fn tight_memory_limit_or_machine_memory_skips_big_models() {
        assert_eq!(decide(&inputs(0.0, 16_000, 256)).model.as_deref(), Some("small"));
        let d = decide(&inputs(0.0, 1_400, 2048));
        assert_eq!(d.model.as_deref(), Some("small"));
        assert!(d.considered[0].1.contains("available"), "{:?}", d.considered);
    }

    #[test]
    fn missing_files_are_skipped() {
        let mut i = inputs(0.0, 16_000, 2048);
        i.preferences[0].present = false;
        i.preferences[1].present = false;
        let d = decide(&i);
        assert_eq!(d.model.as_deref(), Some("small"));
        assert_eq!(d.considered[0].1, "files not present");
    }

    #[test]
    fn when_nothing_fits_the_smallest_present_preference_is_used() {
        let mut i = inputs(0.0, 100, 50); // nothing fits anywhere
        i.preferences[2].present = true;
        let d = decide(&i);
        assert_eq!(d.model.as_deref(), Some("small"));
        assert!(d.reason.contains("tight"));
    }

    #[test]
    fn no_preference_present_uses_the_fallback_and_then_nothing() {
        let mut i = inputs(0.0, 16_000, 2048);
        i.preferences.iter_mut().for_each(|c| c.present = false);
        assert_eq!(decide(&i).model.as_deref(), Some("fallback"));
        i.fallback = None;
        assert_eq!(decide(&i).model, None);
    }
}
