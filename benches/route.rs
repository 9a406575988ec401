//! Run with `cargo bench --bench route`.
//!
//! REST route matching for tables of 20, 200 and 2,000 routes: the time per
//! match must stay flat as the table grows (a segment trie: the cost
//! follows the path's length, not the number of routes).

#![allow(missing_docs)] // criterion_group! makes undocumented public items

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dual_protocol::__bench::RouteTable;
use http::Method;

/// `n` routes shaped like a real API: per resource a collection, an item
/// with a multi-segment name, a nested collection and a custom verb.
fn table(n: usize) -> RouteTable {
    let mut table = RouteTable::default();
    for i in 0..n / 4 {
        let routes = [
            (Method::GET, format!("/v1/resources{i}")),
            (Method::GET, format!("/v1/{{name=resources{i}/*/items/*}}")),
            (Method::POST, format!("/v1/{{parent=resources{i}/*}}/items")),
            (Method::POST, format!("/v1/{{name=resources{i}/*}}:archive")),
        ];
        for (k, (verb, template)) in routes.into_iter().enumerate() {
            table
                .insert(verb, &template, i * 4 + k)
                .expect("valid route");
        }
    }
    table
}

fn route_match(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_match");
    for n in [20, 200, 2_000] {
        let table = table(n);
        let last = n / 4 - 1;
        let item = format!("/v1/resources{last}/abc/items/42");
        let verb = format!("/v1/resources{}/xyz:archive", n / 8);
        assert_eq!(table.find(&Method::GET, &item), Some((last * 4 + 1, 1)));
        assert_eq!(table.find(&Method::POST, &verb), Some(((n / 8) * 4 + 3, 1)));
        group.bench_with_input(BenchmarkId::new("item", n), &item, |b, path| {
            b.iter(|| table.find(&Method::GET, std::hint::black_box(path)))
        });
        group.bench_with_input(BenchmarkId::new("custom_verb", n), &verb, |b, path| {
            b.iter(|| table.find(&Method::POST, std::hint::black_box(path)))
        });
        group.bench_with_input(
            BenchmarkId::new("miss", n),
            &"/v2/none/of/these",
            |b, path| b.iter(|| table.find(&Method::GET, std::hint::black_box(path))),
        );
    }
    group.finish();
}

criterion_group!(benches, route_match);
criterion_main!(benches);
