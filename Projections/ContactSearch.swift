import Foundation
import SupportDesk

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The search text of every live contact — its name and e-mail addresses, lower-cased and in
/// Unicode NFC — kept by the fold in one byte buffer, so that a search by any part of a name or
/// address is one byte search over a few megabytes instead of lower-casing every contact's strings
/// on every request (the contacts page at a million tickets).
///
/// Layout: each record is its fields, each preceded by a NUL byte. A query never holds NUL, so a
/// match never spans two fields or two records. A changed contact's old record is overwritten
/// with NULs (it can no longer match) and a new one appended; the buffer is rewritten when dead
/// bytes are more than half of it.
struct ContactSearchIndex {
    private var bytes: [UInt8] = []
    /// Where each record starts in `bytes`, ascending; record `i` ends where `i + 1` starts.
    private var starts: [Int] = []
    /// The contact of each record; nil once the record is dead.
    private var ids: [ContactId?] = []
    private var slot: [ContactId: Int] = [:]
    private var deadBytes = 0

    /// The text a contact is found by; nil for a contact merged into another (not found itself).
    static func text(of c: ContactState) -> [UInt8]? {
        guard c.mergedInto == nil else { return nil }
        var out: [UInt8] = []
        for field in [c.name] + c.emails {
            out.append(0)
            out += fold(field).utf8.lazy.filter { $0 != 0 }
        }
        return out
    }

    /// Lower case, canonical composition: how keys and queries are compared.
    static func fold(_ s: String) -> String { s.lowercased().precomposedStringWithCanonicalMapping }

    var count: Int { slot.count }

    /// Sets (or, with nil, removes) what `id` is found by.
    mutating func set(_ id: ContactId, _ text: [UInt8]?) {
        if let i = slot[id] {
            let end = i + 1 < starts.count ? starts[i + 1] : bytes.count
            if let text, bytes[starts[i]..<end].elementsEqual(text) { return }
            for k in starts[i]..<end { bytes[k] = 0 }
            deadBytes += end - starts[i]
            ids[i] = nil
            slot[id] = nil
        }
        if let text {
            slot[id] = starts.count
            starts.append(bytes.count)
            ids.append(id)
            bytes += text
        }
        if deadBytes > 65_536, deadBytes > bytes.count / 2 { compact() }
    }

    private mutating func compact() {
        var b: [UInt8] = [], s: [Int] = [], d: [ContactId?] = [], sl: [ContactId: Int] = [:]
        b.reserveCapacity(bytes.count - deadBytes)
        for i in starts.indices {
            guard let id = ids[i] else { continue }
            let end = i + 1 < starts.count ? starts[i + 1] : bytes.count
            sl[id] = s.count
            s.append(b.count)
            d.append(id)
            b += bytes[starts[i]..<end]
        }
        (bytes, starts, ids, slot, deadBytes) = (b, s, d, sl, 0)
    }

    /// The contacts whose name or an address contains `query` (already folded), at most `limit`
    /// of them, smallest ids first; and how many match in all.
    func search(_ query: String, limit: Int) -> (ids: [ContactId], total: Int) {
        let q = Array(query.utf8.filter { $0 != 0 })
        guard !q.isEmpty, !bytes.isEmpty, limit > 0 else { return ([], 0) }
        var best: [ContactId] = []  // sorted, at most `limit`
        var total = 0
        bytes.withUnsafeBufferPointer { buf in
            q.withUnsafeBufferPointer { qb in
                let base = buf.baseAddress!
                var pos = 0
                while let offset = Self.find(qb, in: buf, from: pos) {
                    let i = record(at: offset)
                    if let id = ids[i] {
                        total += 1
                        if best.count < limit || id < best[best.count - 1] {
                            var a = 0, b = best.count
                            while a < b { let m = (a + b) / 2; if best[m] < id { a = m + 1 } else { b = m } }
                            best.insert(id, at: a)
                            if best.count > limit { best.removeLast() }
                        }
                    }
                    pos = i + 1 < starts.count ? starts[i + 1] : buf.count
                }
            }
        }
        return (best, total)
    }

    /// The first place at or after `from` where `needle` occurs in `hay`: `memchr` for one of its
    /// bytes, then `memcmp` (glibc's `memmem` needs `_GNU_SOURCE`, which Swift does not set). The
    /// byte looked for is the first that is neither a space nor a UTF-8 lead byte: in Cyrillic text
    /// every other byte is 0xD0 or 0xD1, which would stop `memchr` at every letter.
    private static func find(_ needle: UnsafeBufferPointer<UInt8>, in hay: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        let base = hay.baseAddress!, n = needle.count
        let k = needle.firstIndex { $0 < 0xC0 && $0 != 0x20 } ?? 0
        let probe = Int32(needle[k])
        var pos = from
        while hay.count - pos >= n {
            // The probe byte of a match starting at `pos…hay.count - n` lies in `pos + k…hay.count - n + k`.
            guard let hit = memchr(base + pos + k, probe, hay.count - n - pos + 1) else { return nil }
            let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) - k
            if memcmp(base + at, needle.baseAddress!, n) == 0 { return at }
            pos = at + 1
        }
        return nil
    }

    /// The record holding byte `offset`: the last start not after it.
    private func record(at offset: Int) -> Int {
        var a = 0, b = starts.count
        while a < b { let m = (a + b) / 2; if starts[m] <= offset { a = m + 1 } else { b = m } }
        return a - 1
    }
}
