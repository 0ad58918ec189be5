//! TIFF's LZW decoder (Welch, "A Technique for High-Performance Data
//! Compression", 1984; the TIFF 6.0 specification, 1992, section 13):
//! MSB-first codes of 9 to 12 bits, 256 the clear code, 257 the end,
//! the code size growing one code early ("early change").
//!
//! Every string in the table is a stretch of the output already written
//! (a code's string followed by the first byte of the next), so an entry
//! is only where that stretch starts and how long it is, and decoding a
//! code is one copy from earlier in the output — no chains of prefixes to
//! walk back. On the 16-bit strips of the 3D benchmark's OME-TIFF stacks
//! it takes half the time `weezl` (the tiff crate's decoder) took, which
//! was 14 % of the whole analysis (`docs/3d.md`); the tests hold it to
//! `weezl`'s output byte for byte.

/// Why a strip could not be decoded whole (the caller then leaves the
/// page to the tiff crate).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LzwError {
    /// A code that is not yet in the table.
    BadCode,
    /// More than 4096 entries without a clear code.
    TableFull,
    /// The strings run past the output.
    TooLong,
    /// The codes end (or the end code comes) before the output is full.
    TooShort,
}

const CLEAR: u32 = 256;
const END: u32 = 257;
const FIRST_FREE: usize = 258;
const MAX_CODES: usize = 4096;

/// Decodes the LZW stream `input` into exactly `out` (every byte written
/// or an error). Codes after the output is full are not read.
pub(super) fn decode(input: &[u8], out: &mut [u8]) -> Result<(), LzwError> {
    // Positions are kept in 32 bits (no TIFF strip comes near 4 GiB).
    if out.len() > u32::MAX as usize {
        return Err(LzwError::TooLong);
    }
    // Entry k (k ≥ 258): its string is out[start..start + len], packed
    // as start << 16 | len (len ≤ 4096).
    let mut table = [0u64; MAX_CODES];
    let mut bits = Bits::new(input);
    let mut width = 9u32;
    let mut next = FIRST_FREE;
    // Where the previous code's string was written, and its length (0:
    // none since the last clear).
    let (mut p_at, mut p_len) = (0usize, 0usize);
    let mut at = 0usize;
    while at < out.len() {
        let Some(code) = bits.take(width) else {
            return Err(LzwError::TooShort);
        };
        let code = code as usize;
        if code < 256 {
            // A byte.
            out[at] = code as u8;
            if p_len != 0 {
                add(&mut table, &mut next, &mut width, p_at, p_len)?;
            }
            (p_at, p_len) = (at, 1);
            at += 1;
            continue;
        }
        if code == CLEAR as usize {
            width = 9;
            next = FIRST_FREE;
            p_len = 0;
            continue;
        }
        if code == END as usize || p_len == 0 {
            // The end before the output is full, or a string code right
            // after a clear.
            return Err(if code == END as usize {
                LzwError::TooShort
            } else {
                LzwError::BadCode
            });
        }
        // This code's string (where it was first written, and its
        // length); the code being defined right now (KwKwK) is the
        // previous string plus its own first byte, copied from there.
        let (from, n) = if code < next {
            let e = table[code & (MAX_CODES - 1)];
            ((e >> 16) as usize, (e & 0xffff) as usize)
        } else if code == next {
            (p_at, p_len + 1)
        } else {
            return Err(LzwError::BadCode);
        };
        if n > out.len() - at {
            return Err(LzwError::TooLong);
        }
        if from + n <= at {
            if n <= 16 && at + 16 <= out.len() {
                // Most strings are short: one 16-byte move (the bytes
                // past n are written again by the codes that follow).
                let chunk: [u8; 16] = out[from..from + 16].try_into().expect("16 bytes");
                out[at..at + 16].copy_from_slice(&chunk);
            } else {
                out.copy_within(from..from + n, at);
            }
        } else {
            // Overlapping (KwKwK): forward, byte by byte.
            for k in 0..n {
                out[at + k] = out[from + k];
            }
        }
        add(&mut table, &mut next, &mut width, p_at, p_len)?;
        (p_at, p_len) = (at, n);
        at += n;
    }
    Ok(())
}

/// The new entry after each code but the first: the previous string and
/// the first byte of this one, which follows it in the output; the code
/// size grows one code early.
#[inline]
fn add(
    table: &mut [u64; MAX_CODES],
    next: &mut usize,
    width: &mut u32,
    p_at: usize,
    p_len: usize,
) -> Result<(), LzwError> {
    if *next >= MAX_CODES {
        return Err(LzwError::TableFull);
    }
    table[*next] = (p_at as u64) << 16 | (p_len as u64 + 1);
    *next += 1;
    if *next + 1 >= 1 << *width && *width < 12 {
        *width += 1;
    }
    Ok(())
}

/// MSB-first codes from a byte stream, through a 64-bit buffer.
struct Bits<'a> {
    input: &'a [u8],
    buffer: u64,
    /// Bits in `buffer` (its low ones).
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(input: &'a [u8]) -> Bits<'a> {
        Bits {
            input,
            buffer: 0,
            count: 0,
        }
    }

    /// The next `width` bits, or `None` when the stream has fewer.
    #[inline]
    fn take(&mut self, width: u32) -> Option<u32> {
        if self.count < width {
            if let Some(word) = self.input.first_chunk::<8>() {
                // Whole bytes up to 56 bits from one 8-byte read (count is
                // under 12 here, so at least 6 bytes fit).
                let bytes = ((63 - self.count) / 8) as usize;
                let word = u64::from_be_bytes(*word);
                self.buffer = (self.buffer << (8 * bytes)) | (word >> (64 - 8 * bytes));
                self.count += 8 * bytes as u32;
                self.input = &self.input[bytes..];
            } else {
                while self.count <= 56 {
                    let Some((&b, rest)) = self.input.split_first() else {
                        break;
                    };
                    self.buffer = (self.buffer << 8) | u64::from(b);
                    self.count += 8;
                    self.input = rest;
                }
            }
            if self.count < width {
                return None;
            }
        }
        self.count -= width;
        Some(((self.buffer >> self.count) & ((1 << width) - 1)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(data: &[u8]) -> Vec<u8> {
        weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(data)
            .unwrap()
    }

    /// The reference: weezl, as the tiff crate configures it.
    fn weezl_decode(input: &[u8]) -> Vec<u8> {
        weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .decode(input)
            .unwrap()
    }

    /// 16-bit samples like a confocal strip: a smooth ramp with noise in
    /// the low bits, differenced (the predictor) or not.
    fn confocal_like(n: usize, seed: u64, noise: u64) -> Vec<u8> {
        let mut s = seed | 1;
        let mut out = Vec::with_capacity(2 * n);
        for i in 0..n {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let v = (100 + (i % 700) as u64 + s % noise.max(1)) as u16;
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    #[test]
    fn decodes_what_weezl_encodes_through_table_resets() {
        // Long enough that the table fills and is cleared many times.
        for (seed, noise) in [(1, 1), (2, 4), (3, 64), (4, 4096)] {
            let data = confocal_like(200_000, seed, noise);
            let packed = encode(&data);
            let mut out = vec![0u8; data.len()];
            decode(&packed, &mut out).unwrap();
            assert_eq!(out, data);
            assert_eq!(out, weezl_decode(&packed));
        }
    }

    #[test]
    fn kwkwk_runs_decode() {
        // One byte repeated: every new code is the one being defined.
        let data = vec![7u8; 10_000];
        let mut out = vec![0u8; data.len()];
        decode(&encode(&data), &mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn broken_streams_are_errors_not_panics() {
        let data = confocal_like(5_000, 9, 16);
        let packed = encode(&data);
        let mut out = vec![0u8; data.len()];
        // Truncated codes.
        assert_eq!(
            decode(&packed[..packed.len() / 2], &mut out),
            Err(LzwError::TooShort)
        );
        // More output asked for than the stream holds.
        let mut more = vec![0u8; data.len() + 10];
        assert_eq!(decode(&packed, &mut more), Err(LzwError::TooShort));
        // A first code that is not a byte: 300 in 9 bits after a clear.
        let bad = [0b1000_0000, 0b0100_1011, 0b0000_0000];
        assert_eq!(decode(&bad, &mut out), Err(LzwError::BadCode));
        // Strings past the end of a small output: the second code is
        // two bytes, one is left.
        let mut small = vec![0u8; 2];
        assert_eq!(
            decode(&encode(&[5u8; 100]), &mut small),
            Err(LzwError::TooLong)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn equals_weezl_on_any_bytes(
            data in proptest::collection::vec(0u8..6, 0..3000),
            garbage in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let packed = encode(&data);
            let mut out = vec![0u8; data.len()];
            prop_assert!(decode(&packed, &mut out).is_ok());
            prop_assert_eq!(&out, &data);
            // Arbitrary bytes as a stream: an error or some output, never
            // a panic.
            let mut any_out = vec![0u8; 500];
            let _ = decode(&garbage, &mut any_out);
        }
    }
}
