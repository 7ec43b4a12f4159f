import BusinessTime
import Foundation

// A ticket as a few hundred bytes, for the desk view's closed tickets.
//
// Why: a `TicketState` is ~500 bytes inline plus its own heap objects (subject, participant sets,
// the thread: one `CommentState` of ~100 bytes per comment with its text and notify list, the
// evaluation and time dictionaries): ~1.3 KB per ticket at the generated history's 3 comments and
// 9 participants. The desk view keeps every ticket ever opened; nearly all are closed and read
// rarely (a ticket detail, a client's list, a report). Frozen, a closed ticket is one byte array:
// fields in a fixed order, no names, dates as their 8 raw bytes, and the two things that repeat
// across tickets — notify lists and participant / co-executor sets — as indexes into
// `FrozenPools`, which keep one copy of each distinct value.
//
// The format is in memory only (never stored, never sent): it may change with any build. Rows
// in LMDB stay `CompactCoding`. `TicketState(frozen:pools:)` gives back exactly the value frozen
// (`FrozenTicketTests` checks every field); with `thread: false` it skips the thread but for its
// last comment to the client (what the lists' answered / unanswered marker reads), for the staff
// feed, the queues and the reports. That comment's offset is the last 4 bytes.

/// A value an `InternTable` holds, with a cheap hash of its own: FNV-1a over the UTF-8 of its
/// strings. `Hashable`'s SipHash cost a freeze more than writing the ticket did (a set hashes
/// each element with a fresh hasher; every string is checked for normalisation first).
public protocol InternKey: Hashable, Sendable {
    /// Equal values have equal hashes.
    var internHash: UInt64 { get }
}

@usableFromInline enum FNV {
    @usableFromInline static let basis: UInt64 = 0xcbf2_9ce4_8422_2325
    @inlinable @inline(__always) static func add(_ h: inout UInt64, _ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
    /// The string's bytes and an end mark (so that "ab","c" and "a","bc" differ).
    @inlinable @inline(__always) static func add(_ h: inout UInt64, _ s: String) {
        var s = s
        s.withUTF8 { for b in $0 { add(&h, b) } }
        add(&h, 0xFF)
    }
    @inlinable static func hash(_ s: String) -> UInt64 {
        var h = basis
        add(&h, s)
        return h
    }
}

extension String: InternKey {
    @inlinable public var internHash: UInt64 { FNV.hash(self) }
}

extension Array: InternKey where Element == Party {
    @inlinable public var internHash: UInt64 {
        var h = FNV.basis
        for p in self {
            switch p {
            case .staff(let id): FNV.add(&h, 0); FNV.add(&h, id)
            case .contact(let id): FNV.add(&h, 1); FNV.add(&h, id)
            case .system(let s): FNV.add(&h, 2); FNV.add(&h, s)
            }
        }
        return h
    }
}

extension Set: InternKey where Element == String {
    /// Order-independent: the sum of the elements' hashes (a set's order is its own).
    @inlinable public var internHash: UInt64 {
        var h = UInt64(count)
        for s in self { h &+= FNV.hash(s) }
        return h
    }
}

/// One copy of each distinct value, by index (append-only): a value stored once is handed back
/// with shared storage wherever it is read.
public struct InternTable<Value: InternKey>: Sendable {
    public private(set) var values: [Value] = []
    @usableFromInline var index: [Key: UInt32] = [:]

    /// A value with its `internHash`, which is all the dictionary hashes.
    @usableFromInline struct Key: Hashable, Sendable {
        @usableFromInline let value: Value
        @usableFromInline let hash: UInt64
        @inlinable init(value: Value, hash: UInt64) { self.value = value; self.hash = hash }
        @inlinable func hash(into h: inout Hasher) { h.combine(hash) }
        @inlinable static func == (a: Key, b: Key) -> Bool { a.hash == b.hash && a.value == b.value }
    }

    public init() {}

    public var count: Int { values.count }

    /// The index of `value`, adding it if it is new. (Inlinable, so that other modules' tables are
    /// specialised rather than run through generic dictionary code.)
    @inlinable public mutating func id(of value: Value) -> UInt32 { idAdding(value).id }

    /// The index of `value`, and whether it was added now (the table then holds `value` itself).
    @inlinable public mutating func idAdding(_ value: Value) -> (id: UInt32, added: Bool) {
        let key = Key(value: value, hash: value.internHash)
        if let i = index[key] { return (i, false) }
        return (add(key), true)
    }

    @usableFromInline mutating func add(_ key: Key) -> UInt32 {
        let i = UInt32(values.count)
        values.append(key.value)
        index[key] = i
        return i
    }

    public subscript(i: UInt32) -> Value { values[Int(i)] }
}

/// One shared copy of each distinct notify list and staff set, by index.
public struct FrozenPools: Sendable {
    private var notifyLists = InternTable<[Party]>()
    private var staffSets = InternTable<Set<StaffId>>()
    /// Notify lists by the address of their elements, for the arrays `notifyLists` holds (so the
    /// address is theirs for as long as the pools live): a ticket thawed from these pools, or an
    /// event whose list came from a `NotifyListCache`, carries those very arrays, found here
    /// without hashing their parties.
    private var listsByAddress: [UInt: UInt32] = [:]

    public init() {}

    /// How many distinct notify lists and staff sets are held.
    public var counts: (notifyLists: Int, staffSets: Int) { (notifyLists.count, staffSets.count) }

    mutating func id(of list: [Party]) -> UInt32 {
        let address = list.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        if let id = listsByAddress[address] { return id }
        let (id, added) = notifyLists.idAdding(list)
        // Only an array the table now holds: another one's address may be reused once it is freed.
        if added { listsByAddress[address] = id }
        return id
    }
    mutating func id(of set: Set<StaffId>) -> UInt32 { staffSets.id(of: set) }

    /// The lists and sets as they are now, to write frozen tickets as rows on another thread
    /// (copies of two arrays of references; the pools' next append copies them again).
    public var snapshot: Snapshot { Snapshot(notifyLists: notifyLists.values, staffSets: staffSets.values) }

    public struct Snapshot: Sendable {
        let notifyLists: [[Party]]
        let staffSets: [Set<StaffId>]
    }
}

/// Staff sets and notify lists as `TicketState.writeRow` writes them, by their index in one pools
/// snapshot: use one memo per snapshot (indexes mean nothing across pools).
public struct RowListMemo {
    var sets: [UInt32: [UInt8]] = [:]
    var lists: [UInt32: [UInt8]] = [:]
    public init() {}
}

/// A frozen ticket (see the file comment): its bytes, exactly as long as they need to be.
public struct FrozenTicket: Sendable {
    let bytes: ContiguousArray<UInt8>
    /// The bytes held (for memory accounting).
    public var byteCount: Int { bytes.count }
}

/// Enums written as their index in `allCases`.
protocol FrozenEnum: CaseIterable, Equatable {
    static var frozenCases: [Self] { get }
}

extension TicketStatus: FrozenEnum { static let frozenCases = Array(allCases) }
extension Channel: FrozenEnum { static let frozenCases = Array(allCases) }
extension SupportLevel: FrozenEnum { static let frozenCases = Array(allCases) }
extension TicketType: FrozenEnum { static let frozenCases = Array(allCases) }
extension FirstLineCategory: FrozenEnum { static let frozenCases = Array(allCases) }
extension Criticality: FrozenEnum { static let frozenCases = Array(allCases) }
extension AnswerVolume: FrozenEnum { static let frozenCases = Array(allCases) }
extension DeliveryStatus: FrozenEnum { static let frozenCases = Array(allCases) }

/// Appends values in the positional format of frozen tickets and desk rows: unsigned varints,
/// zig-zag varints for signed integers, strings as length + UTF-8, dates as their 8 raw bytes.
public struct PositionalWriter {
    public var bytes: [UInt8]

    public init(bytes: [UInt8] = []) { self.bytes = bytes }

    @inline(__always) public mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inline(__always) public mutating func uint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always) public mutating func int(_ v: Int) {
        let v = Int64(v)
        uint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    public mutating func string(_ s: String) {
        func append(_ u: UnsafeBufferPointer<UInt8>) {
            uint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
        // Native strings lend their UTF-8 in place; others (bridged, never here in practice) are copied.
        if s.utf8.withContiguousStorageIfAvailable(append) != nil { return }
        var s = s
        s.withUTF8(append)
    }

    public mutating func date(_ d: Date) {
        withUnsafeBytes(of: d.timeIntervalSinceReferenceDate.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func enumeration<E: FrozenEnum>(_ e: E) { byte(UInt8(E.frozenCases.firstIndex(of: e)!)) }

    mutating func party(_ p: Party) {
        switch p {
        case .staff(let id): byte(0); string(id)
        case .contact(let id): byte(1); string(id)
        case .system(let s): byte(2); string(s)
        }
    }

    mutating func ints(_ a: [Int]) {
        uint(UInt64(a.count))
        for v in a { int(v) }
    }
}

/// Reads what `PositionalWriter` wrote. Every read is checked against the end of the bytes and a
/// short or malformed input throws `CorruptPositional` (rows come from disk); a frozen ticket's
/// bytes are this process's own, read with `try!`.
public struct PositionalReader {
    let base: UnsafeRawBufferPointer
    public internal(set) var at = 0

    public init(_ base: UnsafeRawBufferPointer) { self.base = base }

    public var isAtEnd: Bool { at >= base.count }

    @inline(__always) func need(_ n: Int) throws {
        guard n >= 0, at + n <= base.count else { throw CorruptPositional(at: at) }
    }

    @inline(__always) public mutating func byte() throws -> UInt8 {
        try need(1)
        defer { at += 1 }
        return base[at]
    }

    @inline(__always) public mutating func uint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            try need(1)
            let b = base[at]
            at += 1
            guard shift < 64 else { throw CorruptPositional(at: at) }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    @inline(__always) public mutating func int() throws -> Int {
        let u = try uint()
        return Int(Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))))
    }

    /// A count of things still to read: at most the bytes left (each takes at least one).
    @inline(__always) mutating func count() throws -> Int {
        let n = try uint()
        guard n <= UInt64(base.count - at) else { throw CorruptPositional(at: at) }
        return Int(n)
    }

    public mutating func string() throws -> String {
        let n = try count()
        defer { at += n }
        return String(decoding: UnsafeRawBufferPointer(rebasing: base[at..<at + n]), as: UTF8.self)
    }

    mutating func skipString() throws { at += try count() }

    public mutating func date() throws -> Date {
        try need(8)
        defer { at += 8 }
        return Date(timeIntervalSinceReferenceDate: Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self))))
    }

    mutating func enumeration<E: FrozenEnum>(_: E.Type) throws -> E {
        let i = Int(try byte())
        guard i < E.frozenCases.count else { throw CorruptPositional(at: at - 1) }
        return E.frozenCases[i]
    }

    mutating func party() throws -> Party {
        switch try byte() {
        case 0: .staff(try string())
        case 1: .contact(try string())
        case 2: .system(try string())
        default: throw CorruptPositional(at: at - 1)
        }
    }

    /// A count, then that many elements read by `element`.
    mutating func array<T>(_ element: (inout Self) throws -> T) throws -> [T] {
        let n = try count()
        var a: [T] = []
        a.reserveCapacity(n)
        for _ in 0..<n { a.append(try element(&self)) }
        return a
    }

    mutating func ints() throws -> [Int] { try array { try $0.int() } }
}

/// Bytes that are not a positional value where one was expected.
public struct CorruptPositional: Error, CustomStringConvertible {
    public var at: Int
    public init(at: Int) { self.at = at }
    public var description: String { "malformed positional bytes at offset \(at)" }
}

/// Where a frozen ticket's notify list and staff set indexes are looked up: the view's pools, or
/// the table a row carries with it.
protocol ListSource {
    func readList(_ r: inout PositionalReader) throws -> [Party]
    func readSet(_ r: inout PositionalReader) throws -> Set<StaffId>
}

extension FrozenPools: ListSource {
    func readList(_ r: inout PositionalReader) throws -> [Party] {
        let i = try r.uint()
        guard i < UInt64(notifyLists.count) else { throw CorruptPositional(at: r.at) }
        return notifyLists[UInt32(i)]
    }
    func readSet(_ r: inout PositionalReader) throws -> Set<StaffId> {
        let i = try r.uint()
        guard i < UInt64(staffSets.count) else { throw CorruptPositional(at: r.at) }
        return staffSets[UInt32(i)]
    }
}

/// The lists and sets of one row, by the index its frozen bytes use (reading only).
struct RowLists: ListSource {
    var sets: [UInt64: Set<StaffId>] = [:]
    var lists: [UInt64: [Party]] = [:]
    func readList(_ r: inout PositionalReader) throws -> [Party] {
        let at = r.at
        guard let l = lists[try r.uint()] else { throw CorruptPositional(at: at) }
        return l
    }
    func readSet(_ r: inout PositionalReader) throws -> Set<StaffId> {
        let at = r.at
        guard let s = sets[try r.uint()] else { throw CorruptPositional(at: at) }
        return s
    }
}

// Lists and sets written out in full, for a row's table (sets sorted, so that equal rows are equal bytes).
extension PositionalWriter {
    mutating func list(_ list: [Party]) {
        uint(UInt64(list.count))
        for p in list { party(p) }
    }

    mutating func set(_ set: Set<StaffId>) {
        uint(UInt64(set.count))
        for s in set.sorted() { string(s) }
    }
}

extension PositionalReader {
    mutating func list() throws -> [Party] { try array { try $0.party() } }

    mutating func set() throws -> Set<StaffId> {
        let n = try count()
        var out = Set<StaffId>(minimumCapacity: n)
        for _ in 0..<n { out.insert(try string()) }
        return out
    }
}

extension TicketState {
    // Bits of the header's presence / flag word, in writing order.
    private enum Bit {
        static let organisation: UInt64 = 1 << 0, responsible: UInt64 = 1 << 1, acceptedAt: UInt64 = 1 << 2
        static let tierId: UInt64 = 1 << 3, reactionDue: UInt64 = 1 << 4, resolutionDue: UInt64 = 1 << 5
        static let escalationDue: UInt64 = 1 << 6, mergedInto: UInt64 = 1 << 7, origin: UInt64 = 1 << 8
        static let firstResponseAt: UInt64 = 1 << 9, resolvedAt: UInt64 = 1 << 10, closedAt: UInt64 = 1 << 11
        static let lastMessageId: UInt64 = 1 << 12, premium: UInt64 = 1 << 13, escalated: UInt64 = 1 << 14
        static let spam: UInt64 = 1 << 15
    }

    /// This ticket frozen (see the file comment); its notify lists and staff sets go into `pools`.
    /// `scratch` is a buffer the caller keeps between calls (its capacity is reused).
    public func frozen(pools: inout FrozenPools, scratch: inout [UInt8]) -> FrozenTicket {
        scratch.removeAll(keepingCapacity: true)
        var w = PositionalWriter(bytes: scratch)
        scratch = []
        write(into: &w, pools: &pools)
        let frozen = FrozenTicket(bytes: ContiguousArray(unsafeUninitializedCapacity: w.bytes.count) { buffer, count in
            count = buffer.initialize(fromContentsOf: w.bytes)
        })
        scratch = w.bytes
        return frozen
    }

    /// Appends a stand-alone row made from a frozen ticket: its bytes as they are, then the staff
    /// sets and notify lists they refer to, written out (`snapshot` is the pools' when it was
    /// frozen or later). Read back with `init(row:)`. The writer thread makes rows this way without
    /// a `TicketState` (no copy of the ticket, no re-encoding).
    public static func writeRow(_ frozen: FrozenTicket, lists snapshot: FrozenPools.Snapshot, into w: inout PositionalWriter) {
        var memo = RowListMemo()
        writeRow(frozen, lists: snapshot, memo: &memo, into: &w)
    }

    /// As `writeRow(_:lists:into:)`, with the sets and lists already written out for earlier rows
    /// of the same snapshot taken from `memo` (a set is written sorted, and most tickets have the
    /// same few staff sets: sorting them for every row was a sixth of writing rows).
    public static func writeRow(_ frozen: FrozenTicket, lists snapshot: FrozenPools.Snapshot, memo: inout RowListMemo,
                                into w: inout PositionalWriter) {
        let (sets, lists) = try! frozen.bytes.withUnsafeBytes { base in
            var r = PositionalReader(base)
            return try referencedIds(&r)
        }
        /// Each id, then what it stands for: its bytes from `written` or, the first time, made by `write`.
        func table(_ ids: [UInt32], _ written: inout [UInt32: [UInt8]], _ write: (UInt32, inout PositionalWriter) -> Void) {
            w.uint(UInt64(ids.count))
            for id in ids {
                w.uint(UInt64(id))
                if let known = written[id] {
                    w.bytes.append(contentsOf: known)
                } else {
                    let start = w.bytes.count
                    write(id, &w)
                    written[id] = Array(w.bytes[start...])
                }
            }
        }
        w.uint(UInt64(frozen.bytes.count))
        w.bytes.append(contentsOf: frozen.bytes)
        table(sets, &memo.sets) { id, w in w.set(snapshot.staffSets[Int(id)]) }
        table(lists, &memo.lists) { id, w in w.list(snapshot.notifyLists[Int(id)]) }
    }

    /// Reads a row written by `writeRow(_:lists:into:)`; throws on bytes that are not one.
    public init(row r: inout PositionalReader) throws {
        let length = try r.count()
        let frozenAt = r.at
        r.at += length
        var table = RowLists()
        for _ in 0..<(try r.count()) {
            let id = try r.uint()
            table.sets[id] = try r.set()
        }
        for _ in 0..<(try r.count()) {
            let id = try r.uint()
            table.lists[id] = try r.list()
        }
        let end = r.at
        r.at = frozenAt
        // The frozen part alone: its trailer is found from its own end.
        var part = PositionalReader(UnsafeRawBufferPointer(rebasing: r.base[frozenAt..<frozenAt + length]))
        self = try Self.read(&part, lists: table, thread: true)
        guard part.isAtEnd else { throw CorruptPositional(at: frozenAt + part.at) }
        r.at = end
    }

    /// Walks a frozen ticket's header up to its classification without decoding it: the flag word,
    /// the level and the participant and co-executor set indexes (`referencedIds`, `payrollFacts`).
    private static func skipToClassification(_ r: inout PositionalReader) throws
        -> (flags: UInt64, level: SupportLevel, participants: UInt32, coExecutors: UInt32) {
        let flags = try r.uint()
        func has(_ bit: UInt64) -> Bool { flags & bit != 0 }
        _ = try r.uint(); _ = try r.uint()  // number, version
        try r.need(2); r.at += 2  // status, channel
        let level = try r.enumeration(SupportLevel.self)
        try r.skipString(); try r.skipString()  // subject, contact
        if has(Bit.organisation) { try r.skipString() }
        try r.skipString()  // language
        try r.need(8); r.at += 8  // openedAt
        let participants = UInt32(try r.uint()), coExecutors = UInt32(try r.uint())
        if has(Bit.responsible) { try r.skipString() }
        if has(Bit.acceptedAt) { try r.need(8); r.at += 8 }
        return (flags, level, participants, coExecutors)
    }

    /// The staff set and notify list indexes a frozen ticket refers to, each once, without decoding it.
    static func referencedIds(_ r: inout PositionalReader) throws -> (sets: [UInt32], lists: [UInt32]) {
        let (flags, _, participants, coExecutors) = try skipToClassification(&r)
        func has(_ bit: UInt64) -> Bool { flags & bit != 0 }
        func skipDate() throws { try r.need(8); r.at += 8 }
        func skipInts() throws { for _ in 0..<(try r.count()) { _ = try r.uint() } }
        _ = try readClassification(&r)
        if has(Bit.tierId) { try r.skipString() }
        if has(Bit.reactionDue) { try skipDate() }
        if has(Bit.resolutionDue) { try skipDate() }
        if has(Bit.escalationDue) { try skipDate() }
        if has(Bit.mergedInto) { _ = try r.uint() }
        try skipInts(); try skipInts(); try skipInts()  // merged, splitOff, splitComments
        if has(Bit.origin) { _ = try r.uint(); _ = try r.uint() }
        if has(Bit.firstResponseAt) { try skipDate() }
        if has(Bit.resolvedAt) { try skipDate() }
        if has(Bit.closedAt) { try skipDate() }
        for _ in 0..<(try r.count()) {  // evaluations
            try r.skipString()
            _ = try r.uint(); _ = try r.byte(); _ = try r.uint(); _ = try r.uint(); _ = try r.uint()
        }
        for _ in 0..<(try r.count()) { try r.skipString(); _ = try r.uint() }  // logged minutes
        try skipInts()  // ratings
        for _ in 0..<(try r.count()) { try r.skipString(); _ = try r.byte() }  // deliveries
        if has(Bit.lastMessageId) { try r.skipString() }
        var lists: [UInt32] = []
        for _ in 0..<(try r.count()) {
            _ = try r.uint()  // number
            _ = try r.byte(); try r.skipString()  // author
            try r.skipString()  // text
            _ = try r.byte()  // internal
            let id = UInt32(try r.uint())
            if !lists.contains(id) { lists.append(id) }
            for _ in 0..<(try r.count()) { try r.skipString(); try r.skipString(); try r.skipString(); _ = try r.uint() }
            try skipDate()
        }
        return (participants == coExecutors ? [participants] : [participants, coExecutors], lists)
    }

    /// The ticket `frozen` holds, with its comments unless `thread` is false: then `comments` holds
    /// only the last comment that is not internal, if any (what `marker` needs), for readers that
    /// look no further into the thread.
    public init(frozen: FrozenTicket, pools: FrozenPools, thread: Bool = true) {
        self = frozen.bytes.withUnsafeBytes { base in
            var r = PositionalReader(base)
            // The process's own bytes: a failure here is a bug, not bad input.
            return try! Self.read(&r, lists: pools, thread: thread)
        }
    }

    private func write(into w: inout PositionalWriter, pools: inout FrozenPools) {
        var flags: UInt64 = 0
        func flag(_ present: Bool, _ bit: UInt64) { if present { flags |= bit } }
        flag(organisation != nil, Bit.organisation); flag(responsible != nil, Bit.responsible)
        flag(acceptedAt != nil, Bit.acceptedAt); flag(tierId != nil, Bit.tierId)
        flag(reactionDue != nil, Bit.reactionDue); flag(resolutionDue != nil, Bit.resolutionDue)
        flag(escalationDue != nil, Bit.escalationDue); flag(mergedInto != nil, Bit.mergedInto)
        flag(origin != nil, Bit.origin); flag(firstResponseAt != nil, Bit.firstResponseAt)
        flag(resolvedAt != nil, Bit.resolvedAt); flag(closedAt != nil, Bit.closedAt)
        flag(lastMessageId != nil, Bit.lastMessageId); flag(premium, Bit.premium)
        flag(escalated, Bit.escalated); flag(spam, Bit.spam)
        let start = w.bytes.count
        w.uint(flags)
        w.int(number)
        w.uint(version)
        w.enumeration(status)
        w.enumeration(channel)
        w.enumeration(level)
        w.string(subject)
        w.string(contact)
        if let organisation { w.string(organisation) }
        w.string(language)
        w.date(openedAt)
        w.uint(UInt64(pools.id(of: participants)))
        w.uint(UInt64(pools.id(of: coExecutors)))
        if let responsible { w.string(responsible) }
        if let acceptedAt { w.date(acceptedAt) }
        Self.write(classification, into: &w)
        if let tierId { w.string(tierId) }
        if let reactionDue { w.date(reactionDue) }
        if let resolutionDue { w.date(resolutionDue) }
        if let escalationDue { w.date(escalationDue) }
        if let mergedInto { w.int(mergedInto) }
        w.ints(merged)
        w.ints(splitOff)
        w.ints(splitComments)
        if let origin { w.int(origin.splitFrom); w.int(origin.comment) }
        if let firstResponseAt { w.date(firstResponseAt) }
        if let resolvedAt { w.date(resolvedAt) }
        if let closedAt { w.date(closedAt) }
        w.uint(UInt64(evaluations.count))
        for (staff, e) in evaluations {
            w.string(staff)
            w.int(e.kind)
            w.enumeration(e.volume)
            w.int(e.links)
            w.int(e.screenshots)
            w.int(e.help)
        }
        w.uint(UInt64(loggedMinutes.count))
        for (staff, m) in loggedMinutes { w.string(staff); w.int(m) }
        w.ints(ratingScores)
        w.uint(UInt64(deliveries.count))
        for (id, d) in deliveries { w.string(id); w.enumeration(d) }
        if let lastMessageId { w.string(lastMessageId) }
        // The thread last: a reader without it stops here.
        w.uint(UInt64(comments.count))
        var lastPublic = UInt32.max
        // By index, field by field: `for c in comments` copies each comment out, retaining its text,
        // author, notify list and attachments (a fifth of freezing).
        for i in comments.indices {
            if !comments[i].isInternal { lastPublic = UInt32(w.bytes.count - start) }
            w.int(comments[i].number)
            w.party(comments[i].author)
            w.string(comments[i].text)
            w.byte(comments[i].isInternal ? 1 : 0)
            w.uint(UInt64(pools.id(of: comments[i].notify)))
            w.uint(UInt64(comments[i].attachments.count))
            for a in comments[i].attachments {
                w.string(a.sha256)
                w.string(a.filename)
                w.string(a.contentType)
                w.int(a.size)
            }
            w.date(comments[i].at)
        }
        // Where the last comment to the client starts, from the ticket's first byte (fixed width,
        // last: found from the end).
        withUnsafeBytes(of: lastPublic.littleEndian) { w.bytes.append(contentsOf: $0) }
    }

    private static func read<L: ListSource>(_ r: inout PositionalReader, lists: L, thread: Bool) throws -> TicketState {
        let start = r.at
        let flags = try r.uint()
        func has(_ bit: UInt64) -> Bool { flags & bit != 0 }
        let number = try r.int()
        let version = try r.uint()
        let status = try r.enumeration(TicketStatus.self)
        let channel = try r.enumeration(Channel.self)
        let level = try r.enumeration(SupportLevel.self)
        let subject = try r.string()
        let contact = try r.string()
        let organisation = has(Bit.organisation) ? try r.string() : nil
        let language = try r.string()
        let openedAt = try r.date()
        let participants = try lists.readSet(&r)
        let coExecutors = try lists.readSet(&r)
        let responsible = has(Bit.responsible) ? try r.string() : nil
        let acceptedAt = has(Bit.acceptedAt) ? try r.date() : nil
        let classification = try readClassification(&r)
        let tierId = has(Bit.tierId) ? try r.string() : nil
        let reactionDue = has(Bit.reactionDue) ? try r.date() : nil
        let resolutionDue = has(Bit.resolutionDue) ? try r.date() : nil
        let escalationDue = has(Bit.escalationDue) ? try r.date() : nil
        let mergedInto = has(Bit.mergedInto) ? try r.int() : nil
        let merged = try r.ints()
        let splitOff = try r.ints()
        let splitComments = try r.ints()
        let origin = has(Bit.origin) ? TicketOrigin(splitFrom: try r.int(), comment: try r.int()) : nil
        let firstResponseAt = has(Bit.firstResponseAt) ? try r.date() : nil
        let resolvedAt = has(Bit.resolvedAt) ? try r.date() : nil
        let closedAt = has(Bit.closedAt) ? try r.date() : nil
        var evaluations: [StaffId: AnswerEvaluation] = [:]
        let evaluationCount = try r.count()
        if evaluationCount > 0 { evaluations.reserveCapacity(evaluationCount) }
        for _ in 0..<evaluationCount {
            let staff = try r.string()
            let kind = try r.int(), volume = try r.enumeration(AnswerVolume.self)
            let links = try r.int(), screenshots = try r.int(), help = try r.int()
            evaluations[staff] = AnswerEvaluation(kind: kind, volume: volume, links: links, screenshots: screenshots, help: help)
        }
        var loggedMinutes: [StaffId: Int] = [:]
        for _ in 0..<(try r.count()) {
            let staff = try r.string()
            loggedMinutes[staff] = try r.int()
        }
        let ratingScores = try r.ints()
        var deliveries: [String: DeliveryStatus] = [:]
        for _ in 0..<(try r.count()) {
            let id = try r.string()
            deliveries[id] = try r.enumeration(DeliveryStatus.self)
        }
        let lastMessageId = has(Bit.lastMessageId) ? try r.string() : nil
        func comment() throws -> CommentState {
            let number = try r.int(), author = try r.party(), text = try r.string(), isInternal = try r.byte() != 0
            let notify = try lists.readList(&r)
            var attachments: [AttachmentRef] = []
            for _ in 0..<(try r.count()) {
                let sha = try r.string(), filename = try r.string(), contentType = try r.string()
                attachments.append(AttachmentRef(sha256: sha, filename: filename, contentType: contentType, size: try r.int()))
            }
            return CommentState(number: number, author: author, text: text, isInternal: isInternal,
                                notify: notify, attachments: attachments, at: try r.date())
        }
        var comments: [CommentState] = []
        let commentCount = try r.count()
        if thread {
            comments.reserveCapacity(commentCount)
            for _ in 0..<commentCount { comments.append(try comment()) }
            try r.need(4)
            r.at += 4
        } else {
            // Straight to the trailer, then to the last comment to the client.
            try r.need(4)
            let end = r.base.count
            let lastPublic = UInt32(littleEndian: r.base.loadUnaligned(fromByteOffset: end - 4, as: UInt32.self))
            if lastPublic != .max {
                r.at = start + Int(lastPublic)
                comments = [try comment()]
            }
            r.at = end
        }
        return TicketState(number: number, version: version, status: status, channel: channel, subject: subject,
                           contact: contact, organisation: organisation, language: language, openedAt: openedAt,
                           premium: has(Bit.premium), participants: participants, coExecutors: coExecutors,
                           responsible: responsible, acceptedAt: acceptedAt, level: level, classification: classification,
                           tierId: tierId, reactionDue: reactionDue, resolutionDue: resolutionDue, escalationDue: escalationDue,
                           escalated: has(Bit.escalated), spam: has(Bit.spam), mergedInto: mergedInto, merged: merged,
                           splitOff: splitOff, splitComments: splitComments, origin: origin, comments: comments,
                           firstResponseAt: firstResponseAt, resolvedAt: resolvedAt, closedAt: closedAt,
                           evaluations: evaluations, loggedMinutes: loggedMinutes, ratingScores: ratingScores,
                           deliveries: deliveries, lastMessageId: lastMessageId)
    }

    /// What a payroll line needs of a frozen ticket — its level, premium flag and complexity —
    /// read without decoding the rest (a year of payroll reads hundreds of thousands).
    public static func payrollFacts(of frozen: FrozenTicket) -> (level: SupportLevel, premium: Bool, complexity: Int?) {
        frozen.bytes.withUnsafeBytes { base in
            var r = PositionalReader(base)
            return try! payrollFacts(&r)
        }
    }

    private static func payrollFacts(_ r: inout PositionalReader) throws -> (level: SupportLevel, premium: Bool, complexity: Int?) {
        let (flags, level, _, _) = try skipToClassification(&r)
        let present = try r.byte()
        _ = try r.byte()
        var complexity: Int?
        if present & 16 != 0 {
            if present & 1 != 0 { r.at += 1 }
            if present & 2 != 0 { r.at += 1 }
            if present & 4 != 0 { try r.skipString() }
            if present & 8 != 0 { try r.skipString() }
            complexity = try r.int()
        }
        return (level, flags & Bit.premium != 0, complexity)
    }

    private static func write(_ c: Classification, into w: inout PositionalWriter) {
        var flags: UInt8 = 0
        if c.type != nil { flags |= 1 }
        if c.firstLine != nil { flags |= 2 }
        if c.direction != nil { flags |= 4 }
        if c.directionType != nil { flags |= 8 }
        if c.complexity != nil { flags |= 16 }
        if c.criticality != nil { flags |= 32 }
        if c.category != nil { flags |= 64 }
        if c.plannedMinutes != nil { flags |= 128 }
        w.byte(flags)
        w.byte(c.expectedDate != nil ? 1 : 0)
        if let v = c.type { w.enumeration(v) }
        if let v = c.firstLine { w.enumeration(v) }
        if let v = c.direction { w.string(v) }
        if let v = c.directionType { w.string(v) }
        if let v = c.complexity { w.int(v) }
        if let v = c.criticality { w.enumeration(v) }
        if let v = c.category { w.string(v) }
        if let v = c.plannedMinutes { w.int(v) }
        if let d = c.expectedDate { w.int(d.year); w.int(d.month); w.int(d.day) }
    }

    private static func readClassification(_ r: inout PositionalReader) throws -> Classification {
        let flags = try r.byte()
        let hasDate = try r.byte() != 0
        var c = Classification()
        guard flags != 0 || hasDate else { return c }
        if flags & 1 != 0 { c.type = try r.enumeration(TicketType.self) }
        if flags & 2 != 0 { c.firstLine = try r.enumeration(FirstLineCategory.self) }
        if flags & 4 != 0 { c.direction = try r.string() }
        if flags & 8 != 0 { c.directionType = try r.string() }
        if flags & 16 != 0 { c.complexity = try r.int() }
        if flags & 32 != 0 { c.criticality = try r.enumeration(Criticality.self) }
        if flags & 64 != 0 { c.category = try r.string() }
        if flags & 128 != 0 { c.plannedMinutes = try r.int() }
        if hasDate { c.expectedDate = LocalDate(year: try r.int(), month: try r.int(), day: try r.int()) }
        return c
    }
}
