//! Typed errors of the library. Every error that can come from file data is
//! a value here, never a panic.

use std::path::PathBuf;

/// Why a file or one of its fields could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The operating system refused or failed the read.
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    /// The file ended before the data its header points to.
    #[error("truncated file: {0}")]
    Truncated(String),
    /// The bytes are not a TIFF, or the TIFF structure is broken.
    #[error("corrupt or not a TIFF: {0}")]
    Corrupt(String),
    /// A valid TIFF using a feature follicount does not read.
    #[error("unsupported TIFF: {0}")]
    Unsupported(String),
    /// An OME-Zarr folder that cannot be read: not a Zarr store, a
    /// broken chunk, a codec zarrs does not have.
    #[error("cannot read OME-Zarr: {0}")]
    Zarr(String),
    /// The OME-XML or ImageJ description contradicts the file.
    #[error("bad metadata: {0}")]
    Metadata(String),
    /// The channels cannot be mapped to P-cadherin, Sox9 and DAPI.
    #[error("{0}")]
    Channels(String),
    /// Neither the file nor the run gives the pixel size: the parameters
    /// are in µm, and reading them as pixels would give a wrong count.
    #[error(
        "no pixel size in the file's metadata (µm parameters cannot be applied); \
         give it with --pixel-size UM, or pixel_size_um in a --config file"
    )]
    NoPixelSize,
    /// A 3D analysis was asked for, and neither the file nor the run
    /// gives the distance between slices.
    #[error(
        "no z step in the file's metadata (a 3D analysis needs it); give it with \
         --z-step UM, or run the projection with --mode 2d"
    )]
    NoZStep,
    /// The file asks for more than the sanity limits allow.
    #[error("limit exceeded: {0}")]
    Limit(String),
}

impl From<tiff::TiffError> for LoadError {
    fn from(e: tiff::TiffError) -> Self {
        use tiff::TiffError as T;
        match e {
            T::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                LoadError::Truncated("unexpected end of data".into())
            }
            T::IoError(io) => LoadError::Io(io),
            T::FormatError(f) => LoadError::Corrupt(f.to_string()),
            T::UnsupportedError(u) => LoadError::Unsupported(u.to_string()),
            T::LimitsExceeded => {
                LoadError::Limit("a page or tag is larger than the decoder limit".into())
            }
            T::IntSizeError => LoadError::Limit("sizes overflow this platform".into()),
            other => LoadError::Corrupt(other.to_string()),
        }
    }
}

/// A parameter value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid parameter `{name}`: {reason}")]
pub struct ParamError {
    /// Name of the parameter as in the config file.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Errors of a batch run that stop it before any field is analysed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An input path does not exist or cannot be listed.
    #[error("input {path}: {reason}")]
    Input {
        /// The offending path.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Bad analysis parameters.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The worker pool could not be built.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    /// Writing an output failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file that could not be written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
