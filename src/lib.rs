//! sagiscan (詐欺スキャン): tells whether a Japanese SMS or email is a scam and
//! explains why.
//!
//! The library never prints. The binary (`src/main.rs`) owns I/O, colour and
//! exit codes. The flow is:
//!
//! ```text
//! patterns/*.toml → patterns::load → RulePack → Engine::build (once, immutable)
//! input → mail::parse_message / plain text → Message → engine.scan → score::Verdict
//! ```

pub mod mail;
pub mod normalize;
