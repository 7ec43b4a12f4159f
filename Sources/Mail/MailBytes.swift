import Foundation

// Byte-level helpers for the parser's hot paths. Each one gives exactly the answer of the String,
// Character or Foundation operation it replaces: it works on UTF-8 bytes where that is provably the
// same (ASCII text, where every Character is one scalar apart from CR LF), and hands the rare
// non-ASCII cases where grapheme clusters or canonical equivalence could matter to the old code.

/// All of `p` is ASCII.
@inline(__always)
func allASCII(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
    var acc: UInt8 = 0
    for b in p { acc |= b }
    return acc < 0x80
}

/// `s.utf8` is ASCII.
func isASCII(_ s: some StringProtocol) -> Bool {
    s.utf8.withContiguousStorageIfAvailable(allASCII) ?? s.utf8.allSatisfy { $0 < 0x80 }
}

/// First occurrence of the bytes `n` in p[lo..<hi], or nil.
@inline(__always)
func find(_ n: UnsafeBufferPointer<UInt8>, in p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> Int? {
    let m = n.count
    guard m > 0, hi - lo >= m else { return m == 0 ? lo : nil }
    let first = n[0]
    var i = lo
    outer: while i <= hi - m {
        if p[i] == first {
            var k = 1
            while k < m { if p[i + k] != n[k] { i += 1; continue outer }; k += 1 }
            return i
        }
        i += 1
    }
    return nil
}

/// `s.contains(needle)` with Foundation's answer (which the parser used to call), for an ASCII
/// needle: absent bytes mean absent (no other scalars are canonically equivalent to ASCII text
/// without ';', '`' or 'K'); present bytes in ASCII text mean present. Only a non-ASCII `s` that
/// holds the bytes goes to Foundation, whose matching respects composed character sequences.
func containsText(_ s: String, _ needle: StaticString) -> Bool {
    let n = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
    let r: Bool?? = s.utf8.withContiguousStorageIfAvailable { p -> Bool? in
        guard find(n, in: p, 0, p.count) != nil else { return false }
        return allASCII(p) ? true : nil
    }
    if let r, let r { return r }
    return s.contains(needle.description)
}

/// The scalar starting at p[i] of valid UTF-8 (defensive on malformed input) and its length.
@inline(__always)
func scalarAt(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ hi: Int) -> (UInt32, Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 >= 0xC0 && b0 < 0xE0 && i + 1 < hi { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
    if b0 >= 0xE0 && b0 < 0xF0 && i + 2 < hi {
        return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    if b0 >= 0xF0 && i + 3 < hi {
        return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4)
    }
    return (0xFFFD, 1)
}

/// trimText's notion of blank: spaces and tabs, line ends with `newlines`, and Unicode white space
/// (U+0085, U+2028 and U+2029 only with `newlines`).
@inline(__always)
func isBlank(_ v: UInt32, newlines: Bool) -> Bool {
    if v == 0x20 || v == 0x09 { return true }
    if v < 0x80 { return newlines && (v == 0x0A || v == 0x0D || v == 0x0B || v == 0x0C) }
    // Every White_Space scalar above ASCII is one of these; the property decides.
    guard v == 0x85 || v == 0xA0 || v == 0x1680 || (v >= 0x2000 && v <= 0x205F) || v == 0x3000,
          let c = Unicode.Scalar(v), c.properties.isWhitespace else { return false }
    return newlines || !(v == 0x85 || v == 0x2028 || v == 0x2029)
}

/// Bounds of p[lo..<hi] (valid UTF-8) without blank scalars at either end.
func trimBounds(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, newlines: Bool) -> (Int, Int) {
    var a = lo
    while a < hi {
        let b = p[a]
        if b < 0x80 { if b == 0x20 || b == 0x09 || (newlines && b >= 0x0A && b <= 0x0D) { a += 1; continue } else { break } }
        let (v, len) = scalarAt(p, a, hi)
        if isBlank(v, newlines: newlines) { a += len } else { break }
    }
    var z = hi
    while z > a {
        let b = p[z - 1]
        if b < 0x80 { if b == 0x20 || b == 0x09 || (newlines && b >= 0x0A && b <= 0x0D) { z -= 1; continue } else { break } }
        var s = z - 1
        while s > a, p[s] & 0xC0 == 0x80 { s -= 1 }
        let (v, _) = scalarAt(p, s, z)
        if isBlank(v, newlines: newlines) { z = s } else { break }
    }
    return (a, z)
}

/// String of p[lo..<hi].
@inline(__always)
func string(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: p[lo..<hi]), as: UTF8.self)
}

/// ASCII letters lowercased, other bytes kept.
@inline(__always)
func asciiLower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

/// `a.lowercased() == b.lowercased()`, without lowercasing when both are ASCII, or when one has an
/// "@" and the other has none (no scalar but "@" lowercases to or is canonically equivalent to one).
func sameIgnoringCase(_ a: String, _ b: String) -> Bool {
    var a = a, b = b
    let r: Bool? = a.withUTF8 { pa in
        b.withUTF8 { pb in
            if allASCII(pa) && allASCII(pb) {
                guard pa.count == pb.count else { return false }
                for i in 0..<pa.count where asciiLower(pa[i]) != asciiLower(pb[i]) { return false }
                return true
            }
            if pa.contains(0x40) != pb.contains(0x40) { return false }
            return nil
        }
    }
    return r ?? (a.lowercased() == b.lowercased())
}

/// CR LF and lone CR turned into LF in place (as `normaliseNewlines` does on text).
func normaliseNewlines(bytes a: inout [UInt8]) {
    let n = a.count
    let written: Int? = a.withUnsafeMutableBufferPointer { p -> Int? in
        guard let base = p.baseAddress, let cr = memchr(base, 13, n) else { return nil }
        var r = UnsafeMutableRawPointer(cr).assumingMemoryBound(to: UInt8.self) - base, w = r
        while r < n {  // p[r] is a CR
            p[w] = 10; w += 1; r += 1
            if r < n && p[r] == 10 { r += 1 }
            let next = r < n ? memchr(base + r, 13, n - r).map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt8.self) - base } ?? n : n
            if next > r { memmove(base + w, base + r, next - r) }  // overlapping: w <= r
            w += next - r; r = next
        }
        return w
    }
    if let written { a.removeSubrange(written..<n) }
}

/// `s.lastIndex(of: c)` for an ASCII character `c`: on bytes when `s` is ASCII.
func lastIndex(of c: UInt8, in s: String) -> String.Index? {
    guard isASCII(s) else { return s.lastIndex(of: Character(Unicode.Scalar(c))) }
    let u = s.utf8
    var k = u.endIndex
    while k > u.startIndex {
        k = u.index(before: k)
        if u[k] == c { return k }
    }
    return nil
}

/// String of p[lo..<hi], which are UTF-8 offsets in `s` (p is `s`'s UTF-8) on scalar boundaries:
/// copied from `s` without validating the bytes again.
func substring(_ s: String, _ lo: Int, _ hi: Int) -> String {
    let u = s.utf8
    if lo == 0 && hi == u.count { return s }
    let a = u.index(u.startIndex, offsetBy: lo), z = u.index(a, offsetBy: hi - lo)
    return String(s[a..<z])
}

/// The lines of `p` as `split(separator: "\n", omittingEmptySubsequences: false)` on its String
/// gives them: an LF after a CR belongs to the Character CR LF and separates nothing.
func characterLines(_ p: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
    var lines: [Range<Int>] = [], s = 0, i = 0
    let n = p.count
    while i < n {
        guard let base = p.baseAddress, let lf = memchr(base + i, 10, n - i) else { break }
        let k = UnsafeRawPointer(lf) - UnsafeRawPointer(base)
        if k == 0 || p[k - 1] != 0x0D { lines.append(s..<k); s = k + 1 }
        i = k + 1
    }
    lines.append(s..<n)
    return lines
}
