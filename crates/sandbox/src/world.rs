//! Which version of the handler world a component implements, and the `InstancePre` bound
//! for it. The component's exports decide: `ferroserve:handler/handler@0.2.0` binds the
//! current world, `@0.1.0` the first one (through `compat.rs`); anything else is refused at
//! load with the names it does export, so the author sees what they built.

use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, types::ComponentItem};

use crate::SandboxError;
use crate::bindings::{v1, v2};
use crate::host::HostState;

/// The versions of the contract this host implements, newest first.
pub const WORLD_VERSIONS: [&str; 2] = ["0.2.0", "0.1.0"];

/// The export name of the `handler` interface in a given version.
fn handler_export(version: &str) -> String {
    format!("ferroserve:handler/handler@{version}")
}

/// A compiled handler, pre-linked for the version of the world it implements.
pub(crate) enum WorldPre {
    V1(v1::HandlerWorldPre<HostState>),
    V2(v2::HandlerWorldPre<HostState>),
}

impl WorldPre {
    /// Binds `pre` (already linked) to the world its component exports.
    pub(crate) fn bind(
        engine: &Engine,
        component: &Component,
        pre: InstancePre<HostState>,
    ) -> Result<WorldPre, SandboxError> {
        let exports: Vec<String> = component
            .component_type()
            .exports(engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
            .map(|(name, _)| name.to_string())
            .collect();
        let mismatch = |e: wasmtime::Error| SandboxError::WorldMismatch(format!("{e:#}"));
        if exports.contains(&handler_export("0.2.0")) {
            return v2::HandlerWorldPre::new(pre)
                .map(WorldPre::V2)
                .map_err(mismatch);
        }
        if exports.contains(&handler_export("0.1.0")) {
            return v1::HandlerWorldPre::new(pre)
                .map(WorldPre::V1)
                .map_err(mismatch);
        }
        Err(SandboxError::WorldMismatch(format!(
            "it exports {exports:?}, none of {:?}",
            WORLD_VERSIONS.map(handler_export)
        )))
    }

    /// The contract version, as in the package name (`0.2.0`).
    pub(crate) fn version(&self) -> &'static str {
        match self {
            WorldPre::V1(_) => "0.1.0",
            WorldPre::V2(_) => "0.2.0",
        }
    }
}
