//! Components made on the fly with `wasm-encoder`, for the tests that attack the compile
//! limits: too many functions, one huge function, a section that lies about its count,
//! and one that passes every static check but is slow to compile. None implements the
//! handler world; the compile limits refuse them before that is checked (or, for the slow
//! one, while compiling).

use wasm_encoder::{
    CodeSection, Component, Function, FunctionSection, Instruction, Module, ModuleSection,
    RawSection, TypeSection, ValType,
};

/// A component holding `module`.
fn wrap(modules: &[Module]) -> Vec<u8> {
    let mut component = Component::new();
    for m in modules {
        component.section(&ModuleSection(m));
    }
    component.finish()
}

/// A core module of `n` functions `(func)` with an empty body (3 bytes each).
fn tiny_functions(n: u32) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instruction(&Instruction::End);
    for _ in 0..n {
        functions.function(0);
        code.function(&body);
    }
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    module
}

/// A component with one core module of `n` empty functions.
pub fn many_functions(n: u32) -> Vec<u8> {
    wrap(&[tiny_functions(n)])
}

/// A component with `modules` core modules of `each` empty functions.
pub fn nested_modules(modules: usize, each: u32) -> Vec<u8> {
    let all: Vec<Module> = (0..modules).map(|_| tiny_functions(each)).collect();
    wrap(&all)
}

/// A component with one function whose body (what follows its size prefix) is exactly
/// `body_bytes` long (at least 2): no locals, `nop`s, `end`.
pub fn one_function_of(body_bytes: usize) -> Vec<u8> {
    assert!(body_bytes >= 2);
    let mut raw = vec![0x00]; // no local groups
    raw.resize(body_bytes - 1, 0x01); // nop
    raw.push(0x0b); // end
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut code = CodeSection::new();
    code.raw(&raw);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    wrap(&[module])
}

/// A component whose one module's function and code sections claim `count` functions
/// and hold none.
pub fn claims_functions(count: u32) -> Vec<u8> {
    let mut data = Vec::new();
    leb(&mut data, count);
    let mut module = Module::new();
    module
        .section(&RawSection { id: 3, data: &data })
        .section(&RawSection {
            id: 10,
            data: &data,
        });
    wrap(&[module])
}

fn leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A component that passes the default static checks (`functions` of ~10·`ops` bytes
/// each) but keeps the compiler busy: each function is a long chain of 64-bit arithmetic
/// over 32 locals, which register allocation has to work through.
pub fn slow_to_compile(functions: u32, ops: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I64], [ValType::I64]);
    let mut fsec = FunctionSection::new();
    let mut code = CodeSection::new();
    for f in 0..functions {
        let mut body = Function::new([(32, ValType::I64)]);
        for i in 0..ops {
            let l = |k: u32| (i.wrapping_mul(k).wrapping_add(f)) % 33;
            body.instruction(&Instruction::LocalGet(l(1)))
                .instruction(&Instruction::LocalGet(l(7)))
                .instruction(&Instruction::I64Mul)
                .instruction(&Instruction::LocalGet(l(13)))
                .instruction(&Instruction::I64Xor)
                .instruction(&Instruction::LocalSet(l(5)));
        }
        body.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::End);
        fsec.function(0);
        code.function(&body);
    }
    let mut module = Module::new();
    module.section(&types).section(&fsec).section(&code);
    wrap(&[module])
}

/// A component whose one function does not type-check (`i32.add` on an empty stack): it
/// passes the static checks and fails to compile.
pub fn invalid_function() -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut code = CodeSection::new();
    code.raw(&[0x00, 0x6a, 0x0b]);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    wrap(&[module])
}
