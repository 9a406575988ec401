//! The path-template parser and the REST router: arbitrary templates are
//! parsed (the canonical form must parse to itself) and inserted, arbitrary
//! paths matched; a match's bindings must be the matched template's
//! variables, in order, and a single-segment value holds no `/`.
#![no_main]

use arbitrary::Arbitrary;
use dual_protocol::__fuzz::{Found, Routes};
use dual_protocol_template::Template;
use libfuzzer_sys::fuzz_target;

const METHODS: &[http::Method] = &[
    http::Method::GET,
    http::Method::POST,
    http::Method::PATCH,
    http::Method::DELETE,
];

#[derive(Arbitrary, Debug)]
struct Input {
    templates: Vec<(u8, String)>,
    paths: Vec<(u8, String)>,
}

fuzz_target!(|input: Input| {
    let mut routes = Routes::default();
    let mut parsed: Vec<Template> = Vec::new();
    for (method, template) in input.templates.iter().take(16) {
        let Ok(t) = Template::parse(template) else {
            // The router refuses what the parser refuses.
            assert!(
                routes
                    .insert(METHODS[0].clone(), template, usize::MAX)
                    .is_err()
            );
            continue;
        };
        // The canonical form reads back as the same template, except for a
        // last literal holding ':' (only possible inside a variable,
        // `/{name=a:b}`, as grpc-gateway also reads it), which reads back
        // split at a verb, or not at all (`/{k=:x}`): found by this target.
        let colon_inside = t.verb.is_none()
            && matches!(t.segments.last(), Some(dual_protocol_template::Segment::Literal(l)) if l.contains(':'));
        if !colon_inside {
            let canonical = t.canonical();
            let again = Template::parse(&canonical)
                .unwrap_or_else(|e| panic!("canonical {canonical:?} of {template:?}: {e:?}"));
            assert_eq!(again.canonical(), canonical);
            assert_eq!(again.segments, t.segments);
            assert_eq!(again.verb, t.verb);
        }
        let method = METHODS[*method as usize % METHODS.len()].clone();
        if routes.insert(method, template, parsed.len()).is_ok() {
            parsed.push(t);
        }
    }
    for (method, path) in input.paths.iter().take(16) {
        let method = &METHODS[*method as usize % METHODS.len()];
        match routes.find(method, path) {
            Found::Route(value, bindings) => {
                let t = &parsed[value];
                assert_eq!(bindings.len(), t.variables.len(), "{path:?} vs {t:?}");
                for ((field, v), var) in bindings.iter().zip(&t.variables) {
                    assert_eq!(field, &var.field_path);
                    if !var.is_multi_segment(&t.segments) {
                        assert!(!v.contains('/'), "{v:?} from {path:?} for {t:?}");
                    }
                }
            }
            Found::BadBinding(value) => assert!(value < parsed.len()),
            Found::MethodNotAllowed(allow) => {
                assert!(!allow.is_empty() && !allow.contains(method))
            }
            Found::NotFound => {}
        }
    }
});
