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

/// One shared copy of each distinct notify list and staff set, by index (append-only).
public struct FrozenPools: Sendable {
    private var notifyLists: [[Party]] = []
    private var notifyIndex: [[Party]: UInt32] = [:]
    private var staffSets: [Set<StaffId>] = []
    private var staffSetIndex: [Set<StaffId>: UInt32] = [:]

    public init() {}

    /// How many distinct notify lists and staff sets are held.
    public var counts: (notifyLists: Int, staffSets: Int) { (notifyLists.count, staffSets.count) }

    mutating func id(of list: [Party]) -> UInt32 {
        if let i = notifyIndex[list] { return i }
        let i = UInt32(notifyLists.count)
        notifyLists.append(list)
        notifyIndex[list] = i
        return i
    }

    mutating func id(of set: Set<StaffId>) -> UInt32 {
        if let i = staffSetIndex[set] { return i }
        let i = UInt32(staffSets.count)
        staffSets.append(set)
        staffSetIndex[set] = i
        return i
    }

    func notifyList(_ i: UInt32) -> [Party] { notifyLists[Int(i)] }
    func staffSet(_ i: UInt32) -> Set<StaffId> { staffSets[Int(i)] }
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

struct FrozenWriter {
    var bytes: [UInt8]

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inline(__always) mutating func uint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always) mutating func int(_ v: Int) {
        let v = Int64(v)
        uint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            uint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
    }

    mutating func date(_ d: Date) {
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

/// Reads what `FrozenWriter` wrote; the bytes are this process's own, so a malformed one is a bug
/// (a precondition), not an input error.
struct FrozenReader {
    let base: UnsafeBufferPointer<UInt8>
    var at = 0

    @inline(__always) mutating func byte() -> UInt8 {
        defer { at += 1 }
        return base[at]
    }

    @inline(__always) mutating func uint() -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            let b = base[at]
            at += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    @inline(__always) mutating func int() -> Int {
        let u = uint()
        return Int(Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))))
    }

    @inline(__always) mutating func count() -> Int { Int(uint()) }

    mutating func string() -> String {
        let n = count()
        defer { at += n }
        return String(decoding: UnsafeBufferPointer(rebasing: base[at..<at + n]), as: UTF8.self)
    }

    mutating func date() -> Date {
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(base[at + i]) << (8 * UInt64(i)) }
        at += 8
        return Date(timeIntervalSinceReferenceDate: Double(bitPattern: bits))
    }

    mutating func enumeration<E: FrozenEnum>(_: E.Type) -> E { E.frozenCases[Int(byte())] }

    mutating func party() -> Party {
        switch byte() {
        case 0: .staff(string())
        case 1: .contact(string())
        default: .system(string())
        }
    }

    mutating func ints() -> [Int] {
        let n = count()
        var a: [Int] = []
        a.reserveCapacity(n)
        for _ in 0..<n { a.append(int()) }
        return a
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
        var w = FrozenWriter(bytes: scratch)
        scratch = []
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
        for c in comments {
            if !c.isInternal { lastPublic = UInt32(w.bytes.count) }
            w.int(c.number)
            w.party(c.author)
            w.string(c.text)
            w.byte(c.isInternal ? 1 : 0)
            w.uint(UInt64(pools.id(of: c.notify)))
            w.uint(UInt64(c.attachments.count))
            for a in c.attachments {
                w.string(a.sha256)
                w.string(a.filename)
                w.string(a.contentType)
                w.int(a.size)
            }
            w.date(c.at)
        }
        withUnsafeBytes(of: lastPublic.littleEndian) { w.bytes.append(contentsOf: $0) }
        let frozen = FrozenTicket(bytes: ContiguousArray(unsafeUninitializedCapacity: w.bytes.count) { buffer, count in
            count = buffer.initialize(fromContentsOf: w.bytes)
        })
        scratch = w.bytes
        return frozen
    }

    /// The ticket `frozen` holds, with its comments unless `thread` is false: then `comments` holds
    /// only the last comment that is not internal, if any (what `marker` needs), for readers that
    /// look no further into the thread.
    public init(frozen: FrozenTicket, pools: FrozenPools, thread: Bool = true) {
        self = frozen.bytes.withUnsafeBufferPointer { base in
            var r = FrozenReader(base: base)
            let flags = r.uint()
            func has(_ bit: UInt64) -> Bool { flags & bit != 0 }
            let number = r.int()
            let version = r.uint()
            let status = r.enumeration(TicketStatus.self)
            let channel = r.enumeration(Channel.self)
            let level = r.enumeration(SupportLevel.self)
            let subject = r.string()
            let contact = r.string()
            let organisation = has(Bit.organisation) ? r.string() : nil
            let language = r.string()
            let openedAt = r.date()
            let participants = pools.staffSet(UInt32(r.uint()))
            let coExecutors = pools.staffSet(UInt32(r.uint()))
            let responsible = has(Bit.responsible) ? r.string() : nil
            let acceptedAt = has(Bit.acceptedAt) ? r.date() : nil
            let classification = Self.readClassification(&r)
            let tierId = has(Bit.tierId) ? r.string() : nil
            let reactionDue = has(Bit.reactionDue) ? r.date() : nil
            let resolutionDue = has(Bit.resolutionDue) ? r.date() : nil
            let escalationDue = has(Bit.escalationDue) ? r.date() : nil
            let mergedInto = has(Bit.mergedInto) ? r.int() : nil
            let merged = r.ints()
            let splitOff = r.ints()
            let splitComments = r.ints()
            let origin = has(Bit.origin) ? TicketOrigin(splitFrom: r.int(), comment: r.int()) : nil
            let firstResponseAt = has(Bit.firstResponseAt) ? r.date() : nil
            let resolvedAt = has(Bit.resolvedAt) ? r.date() : nil
            let closedAt = has(Bit.closedAt) ? r.date() : nil
            var evaluations: [StaffId: AnswerEvaluation] = [:]
            let evaluationCount = r.count()
            if evaluationCount > 0 { evaluations.reserveCapacity(evaluationCount) }
            for _ in 0..<evaluationCount {
                let staff = r.string()
                let kind = r.int(), volume = r.enumeration(AnswerVolume.self)
                let links = r.int(), screenshots = r.int(), help = r.int()
                evaluations[staff] = AnswerEvaluation(kind: kind, volume: volume, links: links, screenshots: screenshots, help: help)
            }
            var loggedMinutes: [StaffId: Int] = [:]
            for _ in 0..<r.count() {
                let staff = r.string()
                loggedMinutes[staff] = r.int()
            }
            let ratingScores = r.ints()
            var deliveries: [String: DeliveryStatus] = [:]
            for _ in 0..<r.count() {
                let id = r.string()
                deliveries[id] = r.enumeration(DeliveryStatus.self)
            }
            let lastMessageId = has(Bit.lastMessageId) ? r.string() : nil
            func comment() -> CommentState {
                let number = r.int(), author = r.party(), text = r.string(), isInternal = r.byte() != 0
                let notify = pools.notifyList(UInt32(r.uint()))
                var attachments: [AttachmentRef] = []
                for _ in 0..<r.count() {
                    let sha = r.string(), filename = r.string(), contentType = r.string()
                    attachments.append(AttachmentRef(sha256: sha, filename: filename, contentType: contentType, size: r.int()))
                }
                return CommentState(number: number, author: author, text: text, isInternal: isInternal,
                                    notify: notify, attachments: attachments, at: r.date())
            }
            var comments: [CommentState] = []
            if thread {
                let n = r.count()
                comments.reserveCapacity(n)
                for _ in 0..<n { comments.append(comment()) }
            } else {
                var lastPublic: UInt32 = 0
                for i in 0..<4 { lastPublic |= UInt32(base[base.count - 4 + i]) << (8 * UInt32(i)) }
                if lastPublic != .max {
                    r.at = Int(lastPublic)
                    comments = [comment()]
                }
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
    }

    private static func write(_ c: Classification, into w: inout FrozenWriter) {
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

    private static func readClassification(_ r: inout FrozenReader) -> Classification {
        let flags = r.byte()
        let hasDate = r.byte() != 0
        var c = Classification()
        guard flags != 0 || hasDate else { return c }
        if flags & 1 != 0 { c.type = r.enumeration(TicketType.self) }
        if flags & 2 != 0 { c.firstLine = r.enumeration(FirstLineCategory.self) }
        if flags & 4 != 0 { c.direction = r.string() }
        if flags & 8 != 0 { c.directionType = r.string() }
        if flags & 16 != 0 { c.complexity = r.int() }
        if flags & 32 != 0 { c.criticality = r.enumeration(Criticality.self) }
        if flags & 64 != 0 { c.category = r.string() }
        if flags & 128 != 0 { c.plannedMinutes = r.int() }
        if hasDate { c.expectedDate = LocalDate(year: r.int(), month: r.int(), day: r.int()) }
        return c
    }
}
