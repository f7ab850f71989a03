//! What a text is embedded as: code, documentation prose, or anything else ("general", served
//! by the fallback model). Routing keeps one model per role; strings stop at the SQL boundary.

use serde::{Deserialize, Serialize};

use crate::detect::ContentKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Code,
    Doc,
    General,
}

impl Role {
    /// Every role, in the order pins are listed.
    pub const ALL: [Role; 3] = [Role::Code, Role::Doc, Role::General];

    /// The role SQL spells `s`, if any.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "code" => Some(Role::Code),
            "doc" => Some(Role::Doc),
            "general" => Some(Role::General),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Code => "code",
            Role::Doc => "doc",
            Role::General => "general",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role a detected content kind is routed to (embed_auto): unknown content is general.
impl From<ContentKind> for Role {
    fn from(kind: ContentKind) -> Role {
        match kind {
            ContentKind::Code => Role::Code,
            ContentKind::Doc => Role::Doc,
            ContentKind::Unknown => Role::General,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_the_same_both_ways() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        assert_eq!(Role::parse("Code"), None);
        assert_eq!(Role::from(ContentKind::Unknown), Role::General);
    }
}
