//! Single-core throughput of the at-rest format: seal (encrypt + MAC) and open (MAC
//! check + decrypt) of a 1 MiB blob.
//!
//! `cargo bench -p imagevault-server --bench vault`
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imagevault_server::vault::blob::{BlobId, BlobKind, open, seal};
use imagevault_server::vault::keyring::UserKey;

fn vault(c: &mut Criterion) {
    let key = UserKey::generate();
    let id = BlobId {
        image: uuid::Uuid::new_v4(),
        owner: uuid::Uuid::new_v4(),
        kind: BlobKind::Image,
    };
    let plaintext: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i * 31 % 251).to_le_bytes()[0])
        .collect();
    let blob = seal(&key, 1, &id, &plaintext);
    let mut group = c.benchmark_group("vault_1mib");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.bench_function("seal", |b| {
        b.iter(|| seal(&key, 1, &id, black_box(&plaintext)));
    });
    group.bench_function("open", |b| {
        b.iter(|| open(&key, &id, black_box(&blob)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, vault);
criterion_main!(benches);
