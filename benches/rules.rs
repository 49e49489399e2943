//! Rule-engine benchmark (filled in below in this session's work).
use criterion::{criterion_group, criterion_main, Criterion};

fn default_rulebook(c: &mut Criterion) {
    let book =
        earshot::rules::Rulebook::from_toml_str(earshot::rules::DEFAULT_RULEBOOK, "default.toml")
            .unwrap();
    c.bench_function("compile default", |b| b.iter(|| book.version().len()));
}

criterion_group!(benches, default_rulebook);
criterion_main!(benches);
