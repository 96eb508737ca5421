//! Peak heap allocated while refusing (or accepting) hostile files, measured with a
//! counting global allocator. Prints one line per input.
//!
//! `cargo bench -p imagevault-common --bench bomb_memory`
#![allow(missing_docs, clippy::cast_precision_loss)] // MiB figures for display

mod fixtures;

use std::time::Instant;

use imagevault_common::image::validate;
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. a filter) is ignored.
    let inputs: Vec<_> = fixtures::bomb_inputs()
        .into_iter()
        .chain(fixtures::pipeline_inputs())
        .collect();
    println!("| input | file size | verdict | peak heap during validate | median time |");
    println!("|---|---:|---|---:|---:|");
    for input in inputs {
        let mut times = Vec::new();
        let mut peak = 0;
        let mut verdict = String::new();
        for _ in 0..7 {
            let before = ALLOC.current_usage();
            ALLOC.reset_peak_usage();
            let start = Instant::now();
            let result = validate(&input.bytes, input.filename);
            times.push(start.elapsed());
            peak = peak.max(ALLOC.peak_usage() - before);
            verdict = match result {
                Ok(_) => "accepted".to_owned(),
                Err(e) => format!("{:?}", e.code()),
            };
        }
        times.sort();
        println!(
            "| {} | {} B | {} | {:.2} MiB | {:.3} ms |",
            input.label,
            input.bytes.len(),
            verdict,
            peak as f64 / (1024.0 * 1024.0),
            times[times.len() / 2].as_secs_f64() * 1000.0
        );
    }
}
