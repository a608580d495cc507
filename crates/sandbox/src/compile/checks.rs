//! The checks that run before any compiler: the component's size, the functions it
//! defines (in every nested core module, plus its canonical functions) and its largest
//! function body. One pass over the bytes with `wasmparser`, no validation and no
//! allocation per function, so an 18 MB component costs milliseconds; a declared count is
//! refused before its entries are read, so a section that claims 4 billion functions costs
//! nothing either.

use wasmparser::{Parser, Payload};

use super::{CompileLimit, CompileLimits};
use crate::SandboxError;

/// What the checks counted, for tests and the measurements in docs/configuration.md.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    pub functions: u64,
    pub largest_function: u64,
    pub core_modules: u64,
}

fn over(limit: CompileLimit, max: u64, found: u64) -> SandboxError {
    SandboxError::CompileLimit {
        limit,
        max,
        found: Some(found),
    }
}

pub(crate) fn check(wasm: &[u8], limits: &CompileLimits) -> Result<(), SandboxError> {
    shape(wasm, limits).map(drop)
}

pub(crate) fn shape(wasm: &[u8], limits: &CompileLimits) -> Result<Shape, SandboxError> {
    let size = wasm.len() as u64;
    if size > limits.max_component_bytes {
        return Err(over(
            CompileLimit::ComponentSize,
            limits.max_component_bytes,
            size,
        ));
    }
    let mut shape = Shape::default();
    let add_functions = |shape: &mut Shape, n: u32| {
        shape.functions = shape.functions.saturating_add(u64::from(n));
        if shape.functions > limits.max_functions {
            return Err(over(
                CompileLimit::Functions,
                limits.max_functions,
                shape.functions,
            ));
        }
        Ok(())
    };
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload
            .map_err(|e| SandboxError::Compile(format!("the component is malformed: {e}")))?;
        match payload {
            Payload::ModuleSection { .. } => shape.core_modules += 1,
            Payload::CodeSectionStart { count, .. } => add_functions(&mut shape, count)?,
            Payload::ComponentCanonicalSection(s) => add_functions(&mut shape, s.count())?,
            Payload::CodeSectionEntry(body) => {
                let len = body.range().len() as u64;
                shape.largest_function = shape.largest_function.max(len);
                if len > limits.max_function_bytes {
                    return Err(over(
                        CompileLimit::FunctionSize,
                        limits.max_function_bytes,
                        len,
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroserve_test_fixtures::generated;

    fn limits(functions: u64, function_bytes: u64) -> CompileLimits {
        CompileLimits {
            max_functions: functions,
            max_function_bytes: function_bytes,
            ..CompileLimits::default()
        }
    }

    fn refused_by(r: Result<Shape, SandboxError>) -> (CompileLimit, u64, Option<u64>) {
        match r {
            Err(SandboxError::CompileLimit { limit, max, found }) => (limit, max, found),
            other => panic!("expected a compile limit, got {other:?}"),
        }
    }

    #[test]
    fn the_function_count_is_checked_at_its_boundary() {
        let wasm = generated::many_functions(1000);
        let s = shape(&wasm, &limits(1000, 1 << 20)).unwrap();
        assert_eq!((s.functions, s.core_modules), (1000, 1));
        assert_eq!(
            refused_by(shape(&wasm, &limits(999, 1 << 20))),
            (CompileLimit::Functions, 999, Some(1000))
        );
    }

    #[test]
    fn nine_hundred_thousand_tiny_functions_are_refused_by_default() {
        let wasm = generated::many_functions(900_000);
        let (limit, _, found) = refused_by(shape(&wasm, &CompileLimits::default()));
        assert_eq!((limit, found), (CompileLimit::Functions, Some(900_000)));
    }

    #[test]
    fn functions_of_every_nested_module_count_together() {
        let wasm = generated::nested_modules(3, 400);
        let s = shape(&wasm, &limits(1200, 1 << 20)).unwrap();
        assert_eq!((s.functions, s.core_modules), (1200, 3));
        let (limit, _, found) = refused_by(shape(&wasm, &limits(1199, 1 << 20)));
        assert_eq!((limit, found), (CompileLimit::Functions, Some(1200)));
    }

    #[test]
    fn the_largest_body_is_checked_at_its_boundary() {
        let wasm = generated::one_function_of(4096);
        let s = shape(&wasm, &limits(10, 4096)).unwrap();
        assert_eq!(s.largest_function, 4096);
        assert_eq!(
            refused_by(shape(&wasm, &limits(10, 4095))),
            (CompileLimit::FunctionSize, 4095, Some(4096))
        );
    }

    #[test]
    fn a_seven_megabyte_function_is_refused_by_default() {
        let wasm = generated::one_function_of(7 << 20);
        let (limit, _, found) = refused_by(shape(&wasm, &CompileLimits::default()));
        assert_eq!((limit, found), (CompileLimit::FunctionSize, Some(7 << 20)));
    }

    #[test]
    fn the_component_size_is_checked_first() {
        let wasm = generated::many_functions(10);
        let l = CompileLimits {
            max_component_bytes: wasm.len() as u64,
            ..CompileLimits::default()
        };
        assert!(shape(&wasm, &l).is_ok());
        let l = CompileLimits {
            max_component_bytes: wasm.len() as u64 - 1,
            ..l
        };
        let (limit, max, found) = refused_by(shape(&wasm, &l));
        assert_eq!(
            (limit, max, found),
            (
                CompileLimit::ComponentSize,
                wasm.len() as u64 - 1,
                Some(wasm.len() as u64)
            )
        );
    }

    #[test]
    fn a_count_that_overflows_is_refused_before_its_entries_are_read() {
        // A code section that claims u32::MAX bodies and holds none: refused by count,
        // not by running off the end.
        let wasm = generated::claims_functions(u32::MAX);
        let (limit, _, found) = refused_by(shape(&wasm, &CompileLimits::default()));
        assert_eq!(
            (limit, found),
            (CompileLimit::Functions, Some(u32::MAX as u64))
        );
        // With no bound on the count, the missing bodies make it malformed.
        let l = limits(u64::MAX, 1 << 20);
        assert!(matches!(shape(&wasm, &l), Err(SandboxError::Compile(_))));
    }

    #[test]
    fn a_truncated_component_is_a_compile_error() {
        let mut wasm = generated::one_function_of(100);
        wasm.truncate(wasm.len() - 10);
        let e = shape(&wasm, &CompileLimits::default()).unwrap_err();
        assert_eq!(e.kind(), "HandlerCompileError", "{e}");
    }

    /// The measurement behind the defaults (docs/configuration.md): the shape of the
    /// components named in `FERROSERVE_SHAPE_OF` (colon-separated paths).
    #[test]
    #[ignore = "a measurement: FERROSERVE_SHAPE_OF=a.wasm:b.wasm"]
    fn shape_of() {
        let paths = std::env::var("FERROSERVE_SHAPE_OF").unwrap_or_default();
        let open = limits(u64::MAX, u64::MAX);
        let open = CompileLimits {
            max_component_bytes: u64::MAX,
            ..open
        };
        for path in paths.split(':').filter(|p| !p.is_empty()) {
            let wasm = std::fs::read(path).unwrap();
            let s = shape(&wasm, &open).unwrap();
            println!(
                "{path}: {} bytes, {} core modules, {} functions, largest function {} bytes",
                wasm.len(),
                s.core_modules,
                s.functions,
                s.largest_function
            );
        }
    }
}
