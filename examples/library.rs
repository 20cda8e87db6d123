//! The library API in one page: build the engine once, analyse messages,
//! read the verdict and the hits, and render the JSON record or the human
//! report. Run with `cargo run --example library`.

use sagiscan::report::{self, HumanOptions, Origin, Record};
use sagiscan::{Engine, Message, Verdict, patterns};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Load the built-in rule pack and compile it once; the engine is
    // immutable and Send + Sync, so share it across threads.
    let engine = Engine::builtin()?;

    // A message as received: half-width kana, spaced out, as scammers send it.
    let text = include_str!("scam-halfwidth-spaced.txt");
    let message = Message::plain(text);
    let analysis = engine.analyze(&message);

    // The verdict and score.
    println!(
        "verdict: {} (score {:.1}, scam at {:.1})",
        analysis.verdict.as_str(),
        analysis.score,
        analysis.scam_threshold
    );
    assert_eq!(analysis.verdict, Verdict::Scam);

    // Every hit points at the original bytes: text == body[start..end].
    for hit in &analysis.hits {
        assert_eq!(&text[hit.start..hit.end], hit.text);
        println!("  {:<40} 「{}」", hit.rule, hit.text);
    }

    // The JSON record (DESIGN.md's schema).
    let origin = Origin {
        source: "scam-halfwidth-spaced.txt".into(),
        ..Origin::default()
    };
    let record = Record::new(origin.clone(), &analysis, engine.pack(), patterns::Lang::En);
    println!("\n{}", serde_json::to_string(&record.entities)?);

    // The human report, in Japanese, no colour, wrapped at 72 columns.
    let opts = HumanOptions {
        width: Some(72),
        ..HumanOptions::new(patterns::Lang::Ja)
    };
    print!(
        "\n{}",
        report::render_human(&analysis, &message, &origin, engine.pack(), opts)
    );
    Ok(())
}
