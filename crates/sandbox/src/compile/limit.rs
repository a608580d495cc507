//! Which compile limit refused a component, and the message that names it, its value and
//! the server setting that raises it (the keys of `docs/configuration.md`).

/// One of [`super::CompileLimits`]' bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileLimit {
    /// The component's size.
    ComponentSize,
    /// Functions defined in it.
    Functions,
    /// Its largest function body.
    FunctionSize,
    /// CPU time of the compiler.
    Cpu,
    /// Memory of the compiler.
    Memory,
    /// Wall-clock time of the compiler.
    WallClock,
}

impl CompileLimit {
    /// The server setting that raises this limit.
    pub fn setting(self) -> &'static str {
        match self {
            CompileLimit::ComponentSize => "compile_max_component_mib",
            CompileLimit::Functions => "compile_max_functions",
            CompileLimit::FunctionSize => "compile_max_function_kib",
            CompileLimit::Cpu => "compile_cpu_s",
            CompileLimit::Memory => "compile_memory_mib",
            CompileLimit::WallClock => "compile_timeout_s",
        }
    }

    /// The unit of `max` and `found` in [`crate::SandboxError::CompileLimit`].
    pub fn unit(self) -> &'static str {
        match self {
            CompileLimit::ComponentSize | CompileLimit::FunctionSize | CompileLimit::Memory => {
                "bytes"
            }
            CompileLimit::Functions => "functions",
            CompileLimit::Cpu => "seconds",
            CompileLimit::WallClock => "milliseconds",
        }
    }

    pub(crate) fn message(self, max: u64, found: Option<u64>) -> String {
        let what = match self {
            CompileLimit::ComponentSize => format!(
                "the handler component is {}, over the compile limit of {} per component",
                bytes(found.unwrap_or(0)),
                bytes(max)
            ),
            CompileLimit::Functions => format!(
                "the handler component defines {} functions, over the compile limit of {max}",
                found.unwrap_or(0)
            ),
            CompileLimit::FunctionSize => format!(
                "the handler component has a function of {}, over the compile limit of {} per function",
                bytes(found.unwrap_or(0)),
                bytes(max)
            ),
            CompileLimit::Cpu => format!(
                "compiling the handler component used more than the compile limit of {max} s of CPU and was stopped"
            ),
            CompileLimit::Memory => format!(
                "compiling the handler component needed more than the compile limit of {} of memory and was stopped",
                bytes(max)
            ),
            CompileLimit::WallClock => format!(
                "compiling the handler component took longer than the compile limit of {} and was stopped",
                millis(max)
            ),
        };
        let setting = self.setting();
        format!(
            "{what} (server setting `{setting}`); make the handler smaller (fewer or smaller functions), or ask the operator to raise `{setting}`"
        )
    }
}

fn millis(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// Bytes as people read them: whole MiB or KiB when exact or large, else bytes.
fn bytes(n: u64) -> String {
    if n >= 1 << 20 && (n.is_multiple_of(1 << 20) || n >= 16 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && (n.is_multiple_of(1 << 10) || n >= 16 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit_its_value_and_the_setting() {
        let m = CompileLimit::Functions.message(100_000, Some(900_000));
        assert!(m.contains("900000 functions"), "{m}");
        assert!(m.contains("100000"), "{m}");
        assert!(m.contains("`compile_max_functions`"), "{m}");
        let m = CompileLimit::FunctionSize.message(1 << 20, Some(7 << 20));
        assert!(
            m.contains("7 MiB") && m.contains("1 MiB per function"),
            "{m}"
        );
        let m = CompileLimit::Cpu.message(10, None);
        assert!(
            m.contains("10 s of CPU") && m.contains("compile_cpu_s"),
            "{m}"
        );
        let m = CompileLimit::WallClock.message(30_000, None);
        assert!(
            m.contains("limit of 30 s") && m.contains("compile_timeout_s"),
            "{m}"
        );
        assert_eq!(millis(300), "300 ms");
        assert_eq!(bytes(1000), "1000 bytes");
        assert_eq!(bytes(1025), "1025 bytes");
        assert_eq!(bytes(64 << 10), "64 KiB");
        assert_eq!(bytes((18 << 20) + 5), "18 MiB");
    }
}
