//! The one place that knows which burn backends this build has (by cargo feature).
#![allow(deprecated)] // NdArray and LibTorch are deprecated upstream; we keep them for users who ask.

use std::fmt;

use anyhow::bail;
use burn::tensor::Device;
use nca_core::Engine;

/// Where the `nca` binary computes: its own fused CPU kernel, or a burn backend chosen by cargo
/// feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// nca's fused CPU kernel for rollouts and training, burn's `flex` for the rest (feature
    /// `flex`, the default): the fastest on a CPU.
    Fused,
    /// burn's pure-Rust CPU backend (feature `flex`, the default).
    Flex,
    /// burn's NdArray CPU backend (feature `ndarray`).
    Ndarray,
    /// Any GPU through wgpu (feature `wgpu`).
    Wgpu,
    /// NVIDIA GPUs through CubeCL (feature `cuda`).
    Cuda,
    /// LibTorch (feature `tch`).
    Tch,
}

impl Backend {
    const ALL: [Backend; 6] = [
        Backend::Fused,
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Cuda,
        Backend::Tch,
    ];

    /// The name `--backend` takes.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Fused => "fused",
            other => other.feature(),
        }
    }

    /// The cargo feature of `nca-cli` that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Fused | Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
            Backend::Tch => "tch",
        }
    }

    /// Whether this build has the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Fused | Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
            Backend::Tch => cfg!(feature = "tch"),
        }
    }

    /// How models compute their rollouts and training iterations on this backend.
    pub fn engine(self) -> Engine {
        match self {
            Backend::Fused => Engine::Fused,
            _ => Engine::Tensor,
        }
    }

    /// The backends this build has.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The backend used when `--backend` is not given: the first compiled one, CPU first.
    pub fn preferred() -> anyhow::Result<Backend> {
        match Self::compiled().first() {
            Some(backend) => Ok(*backend),
            None => bail!(
                "this build of nca has no backend; rebuild with one of the features flex, ndarray, wgpu, cuda, tch"
            ),
        }
    }

    /// A device of this backend, or an error saying which backends are compiled in and how to
    /// add this one.
    pub fn device(self) -> anyhow::Result<Device> {
        if !self.is_compiled() {
            let compiled: Vec<String> = Self::compiled().iter().map(ToString::to_string).collect();
            bail!(
                "backend {self} is not compiled into this build (it has: {}); rebuild with `cargo build --release -p nca-cli --features {}`",
                compiled.join(", "),
                self.feature()
            );
        }
        Ok(match self {
            #[cfg(feature = "flex")]
            Backend::Fused | Backend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu(Default::default()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Device::cuda(0),
            #[cfg(feature = "tch")]
            Backend::Tch => Device::libtorch(),
            #[allow(unreachable_patterns)]
            _ => unreachable!("checked by is_compiled"),
        })
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a command computes: the backend the user chose (`--backend`), its engine and its
/// device, resolved once.
#[derive(Debug, Clone)]
pub struct Compute {
    /// The backend.
    pub backend: Backend,
    /// How models compute their rollouts and training iterations on it.
    pub engine: Engine,
    /// Its device.
    pub device: Device,
}

impl Compute {
    /// `backend` with its engine and device, or an error saying how to compile it in.
    pub fn of(backend: Backend) -> anyhow::Result<Self> {
        Ok(Self {
            backend,
            engine: backend.engine(),
            device: backend.device()?,
        })
    }

    /// The backend of `--backend`, or the preferred one when it is not given.
    pub fn chosen(choice: Option<Backend>) -> anyhow::Result<Self> {
        Self::of(match choice {
            Some(backend) => backend,
            None => Backend::preferred()?,
        })
    }

    /// Every backend this build has (for suites and benchmarks).
    pub fn compiled() -> Vec<Self> {
        Backend::compiled()
            .into_iter()
            .map(|backend| Self::of(backend).expect("a compiled backend has a device"))
            .collect()
    }

    /// The model at `path` (see [`models::load`](crate::models::load)) on this device and engine.
    pub fn load_model(&self, path: &std::path::Path) -> anyhow::Result<nca_core::Nca> {
        Ok(crate::models::load(path, &self.device)?.with_engine(self.engine))
    }
}
