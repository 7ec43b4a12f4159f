import Foundation

/// Notify lists decoded before, by the bytes they were decoded from: a rebuild decodes each
/// distinct list once and hands the same array (shared storage) to every event that carries it.
///
/// Why: a comment's notify list is its recipients — the staff on the ticket and its client — so
/// the same few thousand lists come back in hundreds of thousands of comments. Decoding one made
/// a string per party and an array (half of decoding a comment); found here it costs a hash of
/// its bytes. And because equal lists are then one array, the desk view's pools find a list by
/// its storage's address (`FrozenPools.id(of:)`) instead of hashing and comparing its parties.
///
/// Used by one thread at a time (a rebuild's reading, batch after batch). Bounded: past
/// `capacity` lists it starts again empty.
public final class NotifyListCache: @unchecked Sendable {
    /// Entry index + 1 by hash slot (0: empty), linear probing; twice `capacity` slots.
    private var slots: [Int32]
    private var hashes: [UInt64] = []
    private var ranges: [Range<Int>] = []
    private var lists: [[Party]] = []
    /// The bytes of every entry, one after another.
    private var arena: [UInt8] = []
    /// `canonical`'s buffer, and the participant sets it hands out by list.
    private var scratch: [UInt8] = []
    private var sets: [[StaffId]: Set<StaffId>] = [:]
    public let capacity: Int

    public init(capacity: Int = 1 << 16) {
        self.capacity = max(1, capacity)
        var size = 2
        while size < 2 * self.capacity { size <<= 1 }
        slots = Array(repeating: 0, count: size)
    }

    /// How many lists are held.
    public var count: Int { lists.count }

    /// Eight bytes at a time, each word multiplied in (byte-wise FNV cost more than the decoding
    /// it saved).
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15
        var i = 0
        while i + 8 <= bytes.count {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        var tail: UInt64 = 0
        while i < bytes.count {
            tail = tail << 8 | UInt64(bytes[i])
            i += 1
        }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        return h ^ (h >> 29)
    }

    /// The list decoded from exactly these bytes before, if any.
    func list(for bytes: UnsafeRawBufferPointer) -> [Party]? {
        let h = Self.hash(bytes)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] != 0 {
            let e = Int(slots[i] - 1)
            if hashes[e] == h, ranges[e].count == bytes.count,
               arena.withUnsafeBytes({ a in memcmp(a.baseAddress! + ranges[e].lowerBound, bytes.baseAddress!, bytes.count) == 0 }) {
                return lists[e]
            }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Remembers `list` as decoded from `bytes` (not already held: `list(for:)` said nil).
    func add(_ bytes: UnsafeRawBufferPointer, _ list: [Party]) {
        if lists.count >= capacity {
            for i in slots.indices { slots[i] = 0 }
            hashes = []; ranges = []; lists = []; arena = []
        }
        let h = Self.hash(bytes)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = Int32(lists.count + 1)
        hashes.append(h)
        ranges.append(arena.count..<arena.count + bytes.count)
        arena.append(contentsOf: bytes)
        lists.append(list)
    }
}

extension NotifyListCache {
    /// The held list equal to `list` (added if there is none): a list made, not decoded, shares
    /// the decoded ones' arrays (a new ticket's first notify list, the answers' lists after it).
    public func canonical(_ list: [Party]) -> [Party] {
        scratch.removeAll(keepingCapacity: true)
        var w = CompactWriter(bytes: scratch)
        scratch = []
        list.writeCompact(into: &w)
        defer { scratch = w.bytes }
        return w.bytes.withUnsafeBytes { raw in
            if let known = self.list(for: raw) { return known }
            add(raw, list)
            return list
        }
    }

    /// `Set(staff)`, the same set for the same list (a desk's tickets open with a few staff lists:
    /// building a set of them at each opening hashed every member anew). Bounded as the lists.
    public func participantSet(_ staff: [StaffId]) -> Set<StaffId> {
        if let known = sets[staff] { return known }
        if sets.count >= capacity { sets = [:] }
        let set = Set(staff)
        sets[staff] = set
        return set
    }
}

extension Reader {
    /// The `[Party]` at `at`, the same array as before when `lists` held one decoded from the same
    /// bytes (the compact form of a value is one and the same for equal values).
    func partyList(_ at: Int) throws -> [Party] {
        guard let lists else { return try value(at) }
        let end = try array(at).end
        let raw = UnsafeRawBufferPointer(rebasing: bytes[at..<end])
        if let known = lists.list(for: raw) { return known }
        let list: [Party] = try value(at)
        lists.add(raw, list)
        return list
    }
}
