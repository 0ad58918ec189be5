//! Plane-sized buffers kept by each thread from one field to the next.
//!
//! A 2048² field needs a dozen planes of 4–16 MiB (decoded channels,
//! smoothed channels, masks, labels). Allocated afresh for every field,
//! each of their pages is faulted in and zeroed by the kernel again, which
//! measured ≈ 15 % of a batch on two cores. Instead, the pipeline hands the
//! planes it has finished with back here ([`give`]) and takes them again
//! for the next field ([`take`]): a worker then holds about the planes one
//! field needs at its busiest, and no more.
//!
//! Buffers are sorted by element size (1, 2 or 4 bytes; f32 and u32 planes
//! share theirs), so a plane of labels can reuse a smoothed channel's
//! memory. Small buffers are not kept (the allocator does well with them),
//! nor more than `KEEP` per size.

use std::cell::RefCell;

use bytemuck::allocation::try_cast_vec;
use bytemuck::Pod;

/// Buffers smaller than this many bytes are left to the allocator.
const MIN_BYTES: usize = 256 << 10;
/// At most this many buffers of each element size are kept per thread.
const KEEP: usize = 8;

#[derive(Default)]
struct Pool {
    b1: Vec<Vec<u8>>,
    b2: Vec<Vec<u16>>,
    b4: Vec<Vec<u32>>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// The kept buffer of `list` with the smallest capacity of at least `len`,
/// if that is at most twice `len` (a small request does not tie up a
/// plane that the next plane-sized one would then miss).
fn best_fit<E>(list: &mut Vec<Vec<E>>, len: usize) -> Option<Vec<E>> {
    let i = (0..list.len())
        .filter(|&i| (len..=len.saturating_mul(2)).contains(&list[i].capacity()))
        .min_by_key(|&i| list[i].capacity())?;
    Some(list.swap_remove(i))
}

/// Keeps `v` in `list`, making room by dropping the smallest buffer when
/// the list is full (unless `v` is the smallest).
fn keep<E>(list: &mut Vec<Vec<E>>, v: Vec<E>) {
    if list.len() >= KEEP {
        let Some(i) = (0..list.len()).min_by_key(|&i| list[i].capacity()) else {
            return;
        };
        if list[i].capacity() >= v.capacity() {
            return;
        }
        list.swap_remove(i);
    }
    list.push(v);
}

/// A buffer of `len` elements whose contents are unspecified (zeros or
/// what an earlier user left): for outputs written whole.
pub fn take<T: Pod>(len: usize) -> Vec<T> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>());
    if bytes >= MIN_BYTES {
        let found = POOL.with(|p| {
            let mut p = p.borrow_mut();
            match std::mem::size_of::<T>() {
                1 => best_fit(&mut p.b1, len).and_then(|v| try_cast_vec(v).ok()),
                2 => best_fit(&mut p.b2, len).and_then(|v| try_cast_vec(v).ok()),
                4 => best_fit(&mut p.b4, len).and_then(|v| try_cast_vec(v).ok()),
                _ => None,
            }
        });
        if let Some(mut v) = found {
            v.resize(len, T::zeroed());
            return v;
        }
    }
    vec![T::zeroed(); len]
}

/// A buffer of `len` zeros.
pub fn take_zeroed<T: Pod>(len: usize) -> Vec<T> {
    let mut v = take(len);
    v.fill(T::zeroed());
    v
}

/// Hands `v` back for a later [`take`] on this thread.
pub fn give<T: Pod>(v: Vec<T>) {
    if v.capacity().saturating_mul(std::mem::size_of::<T>()) < MIN_BYTES {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        match std::mem::size_of::<T>() {
            1 => {
                if let Ok(v) = try_cast_vec(v) {
                    keep(&mut p.b1, v);
                }
            }
            2 => {
                if let Ok(v) = try_cast_vec(v) {
                    keep(&mut p.b2, v);
                }
            }
            4 => {
                if let Ok(v) = try_cast_vec(v) {
                    keep(&mut p.b4, v);
                }
            }
            _ => {}
        }
    });
}

/// Hands an image's buffer back for a later [`take`] on this thread.
pub fn give_image<P: image::Pixel>(img: image::ImageBuffer<P, Vec<P::Subpixel>>)
where
    P::Subpixel: Pod,
{
    give(img.into_raw());
}

/// Drops every buffer this thread keeps.
pub fn clear() {
    POOL.with(|p| *p.borrow_mut() = Pool::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes this thread keeps.
    fn kept_bytes() -> usize {
        POOL.with(|p| {
            let p = p.borrow();
            p.b1.iter().map(Vec::capacity).sum::<usize>()
                + 2 * p.b2.iter().map(Vec::capacity).sum::<usize>()
                + 4 * p.b4.iter().map(Vec::capacity).sum::<usize>()
        })
    }

    #[test]
    fn a_given_buffer_comes_back_across_types_of_its_size() {
        clear();
        let mut v: Vec<f32> = take_zeroed(1 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        v[7] = 3.5;
        let p = v.as_ptr() as usize;
        give(v);
        assert_eq!(kept_bytes(), 4 << 20);
        // Same memory as u32, stale contents allowed by take…
        let u: Vec<u32> = take(1 << 20);
        assert_eq!(u.as_ptr() as usize, p);
        assert_eq!(u[7], 3.5f32.to_bits());
        give(u);
        // A much shorter request does not take it (a new buffer)…
        let small: Vec<u32> = take(1 << 17);
        assert_ne!(small.as_ptr() as usize, p);
        assert_eq!(kept_bytes(), 4 << 20);
        // …one of at least half its length does, zeroed by take_zeroed.
        let z: Vec<u32> = take_zeroed(600 << 10);
        assert_eq!(z.as_ptr() as usize, p);
        assert_eq!(z.len(), 600 << 10);
        assert!(z.iter().all(|&x| x == 0));
        assert_eq!(kept_bytes(), 0);
        give(z);
        clear();
        assert_eq!(kept_bytes(), 0);
    }

    #[test]
    fn small_buffers_and_other_sizes_are_not_kept() {
        clear();
        give(vec![0u8; 1000]);
        give(vec![0u64; 1 << 20]);
        assert_eq!(kept_bytes(), 0);
        // A request larger than every kept buffer gets a new one.
        give(vec![1u16; 1 << 20]);
        let big: Vec<u16> = take(2 << 20);
        assert_eq!(big.len(), 2 << 20);
        assert_eq!(kept_bytes(), 2 << 20);
        clear();
    }

    #[test]
    fn at_most_keep_buffers_the_largest_win() {
        clear();
        for k in 0..KEEP + 3 {
            give(vec![0u8; (1 << 20) + k]);
        }
        assert_eq!(
            kept_bytes(),
            (3..KEEP + 3).map(|k| (1 << 20) + k).sum::<usize>()
        );
        clear();
    }
}
