//! Shared by the end-to-end tests of the real `ferroserve` binary.

#![allow(dead_code)]

pub mod archives;
pub mod examples;
pub mod scripted;
pub mod server;

use std::process::Command;

/// Run the binary with no environment at all (it must find libtorch and everything else
/// by itself) and return its exit code and combined output.
pub fn ferroserve(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroserve"))
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}
