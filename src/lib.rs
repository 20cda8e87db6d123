//! sagiscan (詐欺スキャン): tells whether a Japanese SMS or email is a scam and
//! explains why.
//!
//! The library never prints. The binary (`src/main.rs`) owns I/O, colour and
//! exit codes. The flow is:
//!
//! ```text
//! patterns/*.toml → patterns::load → RulePack → prepared::prepare → Engine (once, immutable;
//!                   for the built-in pack, at compile time: build.rs, builtin, Engine::builtin)
//! input → mail::parse_message / plain text → Message → engine.analyze → Analysis
//!       → report::Record (JSON) / human report → exit code
//! ```
//!
//! ```
//! let engine = sagiscan::Engine::builtin().unwrap();
//! let analysis = engine.analyze_text("本日中にコンビニでプリペイドカードを購入し、番号を伝えてください。日本インターネット協会から還付金が出ます");
//! assert_eq!(analysis.verdict, sagiscan::Verdict::Scam);
//! ```

pub mod builtin;
pub mod corpus;
pub mod engine;
pub mod entities;
pub mod input;
pub mod lint;
pub mod mail;
pub mod message;
mod negation;
pub mod normalize;
pub mod patterns;
pub mod prepared;
pub mod report;
pub mod score;

pub use engine::Engine;
pub use message::{DisguisedLink, Message, Part, PartKind};
pub use score::{Analysis, Verdict};
