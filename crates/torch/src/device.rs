//! [`Device`]: where a model runs, parsed from `cpu`, `cuda` or `cuda:N`.

use std::fmt;
use std::str::FromStr;

use crate::TorchError;

/// Where a model's weights live and its forward runs. Parsed from the strings a manifest
/// or an operator gives: `cpu`, `cuda` (meaning `cuda:0`) or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// A CUDA GPU by index.
    Cuda(usize),
}

impl Device {
    /// Checks that this machine has the device, so that asking for a GPU where there is none
    /// fails at load with a clear message rather than deep inside libtorch.
    pub fn check_available(self) -> Result<(), TorchError> {
        let Device::Cuda(index) = self else {
            return Ok(());
        };
        if !tch::Cuda::is_available() {
            return Err(TorchError::CudaUnavailable { device: self });
        }
        let count = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
        if index >= count {
            return Err(TorchError::CudaIndexOutOfRange {
                device: self,
                count,
            });
        }
        Ok(())
    }

    pub fn is_cuda(self) -> bool {
        matches!(self, Device::Cuda(_))
    }

    pub(crate) fn to_tch(self) -> tch::Device {
        match self {
            Device::Cpu => tch::Device::Cpu,
            Device::Cuda(i) => tch::Device::Cuda(i),
        }
    }
}

impl FromStr for Device {
    type Err = TorchError;

    fn from_str(s: &str) -> Result<Device, TorchError> {
        let invalid = || TorchError::InvalidDevice {
            given: s.to_string(),
        };
        match s.trim() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            other => {
                let index = other.strip_prefix("cuda:").ok_or_else(invalid)?;
                // Digits only: `usize::from_str` would also take a leading `+`.
                if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                index.parse().map(Device::Cuda).map_err(|_| invalid())
            }
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_spellings() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:0".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert_eq!(" cuda:1 ".parse::<Device>().unwrap(), Device::Cuda(1));
    }

    #[test]
    fn rejects_anything_else_naming_what_works() {
        for bad in [
            "", "gpu", "CUDA", "cuda:", "cuda:-1", "cuda:+1", "cuda:x", "cpu:0", "mps",
        ] {
            let err = bad.parse::<Device>().unwrap_err();
            assert!(
                matches!(err, TorchError::InvalidDevice { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("`cuda:N`"), "{err}");
        }
    }

    #[test]
    fn displays_as_it_parses() {
        for d in [Device::Cpu, Device::Cuda(0), Device::Cuda(7)] {
            assert_eq!(d.to_string().parse::<Device>().unwrap(), d);
        }
    }

    #[test]
    fn cpu_is_always_available() {
        Device::Cpu.check_available().unwrap();
    }
}
