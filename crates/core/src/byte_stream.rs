//! [`ByteStream`]: an archive's bytes as an edge hands them over (an upload's body) or the
//! [`Fetcher`](crate::Fetcher) receives them, before the store keeps them.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

/// An archive's bytes as they arrive; an `Err` is the transport's reason.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// No bytes (a registration that names its archive reads no upload).
pub fn no_bytes() -> ByteStream {
    Box::pin(futures_util::stream::empty())
}
