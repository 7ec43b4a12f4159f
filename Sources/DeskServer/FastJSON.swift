import BusinessTime
import Foundation
import Projections
import SupportDesk

/// Encodes `Encodable` values to the very bytes Foundation's `JSONEncoder` gives with
/// `.iso8601` dates and `[.sortedKeys, .withoutEscapingSlashes]` (the API's format), several times
/// faster: it writes straight into one byte buffer instead of building a tree of boxed values, and
/// recognises strings, numbers and dates by type identity instead of dynamic casts.
///
/// Objects are written in the order their keys are encoded and re-ordered in place when they close
/// (keys compared as UTF-8 bytes, as Foundation does). Whatever it does not handle exactly as
/// Foundation does — a key encoded twice in one object, a non-finite number, a year outside
/// 1…9999, `Data`, `URL`, `Decimal`, a top-level value that encodes nothing — makes it throw
/// `Unsupported`, and `jsonResponse` then uses `JSONEncoder` itself. `FastJSONTests` checks it
/// byte for byte against `JSONEncoder` over generated desks and random values.
///
/// Coding paths are not tracked (`codingPath` is always empty): no type here reads them.
enum FastJSON {
    struct Unsupported: Error { let reason: String }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let sink = JSONSink()
        try sink.encodeValue(value, topLevel: true)
        if let reason = sink.poisoned { throw Unsupported(reason: reason) }
        return sink.out
    }
}

/// The buffer and the stack of open containers.
final class JSONSink {
    // Unchecked: every write touches these; the sink is used by one encoding on one thread.
    @exclusivity(unchecked) var out: [UInt8] = []
    /// Open containers, innermost last.
    @exclusivity(unchecked) var frames: [Frame] = []
    /// Entries of the open objects (each frame owns a suffix run, from `firstEntry`).
    @exclusivity(unchecked) var entries: [(key: String, prefix: UInt64, start: Int)] = []
    /// Encoders for nested values, reused by depth.
    var encoders: [JSONValueEncoder] = []
    var depth = 0
    var scratch: [UInt8] = []
    /// Set when something was asked that this encoder does not do (the result is then thrown away).
    var poisoned: String?

    struct Frame {
        var isObject: Bool
        /// Offset of `{` or `[`.
        var start: Int
        var firstEntry: Int
        var count: Int
        /// The encoder depth that opened it (closed when that encoder's value is done).
        var owner: Int
    }

    init() { out.reserveCapacity(4096) }

    // MARK: Containers

    func open(object: Bool) -> Int {
        out.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        frames.append(Frame(isObject: object, start: out.count - 1, firstEntry: entries.count, count: 0, owner: depth))
        return frames.count - 1
    }

    /// Closes every container above `index`, so that `index` may write its next element.
    @inline(__always) func settle(_ index: Int) throws {
        while frames.count - 1 > index { try closeTop() }
    }

    /// Starts an element of the array at `index` (writes the comma).
    func arrayElement(_ index: Int) throws {
        try settle(index)
        if frames[index].count > 0 { out.append(UInt8(ascii: ",")) }
        frames[index].count += 1
    }

    /// Starts the entry `key` of the object at `index` (writes the comma and `"key":`).
    func objectEntry(_ index: Int, _ key: String) throws {
        try settle(index)
        if frames[index].count > 0 { out.append(UInt8(ascii: ",")) }
        frames[index].count += 1
        entries.append((key, Self.prefix(key), out.count))
        writeString(key)
        out.append(UInt8(ascii: ":"))
    }

    /// `objectEntry` / `arrayElement` where the protocol gives no way to throw (nested containers):
    /// a failure poisons the result instead.
    func entry(_ index: Int, _ key: String) {
        do { try objectEntry(index, key) } catch { if poisoned == nil { poisoned = "\(error)" } }
    }

    func element(_ index: Int) {
        do { try arrayElement(index) } catch { if poisoned == nil { poisoned = "\(error)" } }
    }

    func closeTop() throws {
        let f = frames.removeLast()
        guard f.isObject else {
            out.append(UInt8(ascii: "]"))
            return
        }
        let mine = f.firstEntry..<entries.count
        defer { entries.removeSubrange(mine) }
        var sorted = true
        var i = mine.lowerBound + 1
        while i < mine.upperBound {
            let (a, b) = (entries[i - 1], entries[i])
            let c = a.prefix != b.prefix ? (a.prefix < b.prefix ? -1 : 1) : Self.compare(a.key, b.key)
            if c >= 0 {
                if c == 0 { throw FastJSON.Unsupported(reason: "key \(entries[i].key) encoded twice") }
                sorted = false
            }
            i += 1
        }
        if sorted {
            out.append(UInt8(ascii: "}"))
            return
        }
        // Entry k spans [start_k, start_{k+1} - 1) (a comma follows it) or [start_last, end).
        let end = out.count
        var spans: [(key: String, prefix: UInt64, range: Range<Int>)] = []
        spans.reserveCapacity(mine.count)
        for k in mine {
            let s = entries[k].start
            let e = k + 1 < mine.upperBound ? entries[k + 1].start - 1 : end
            spans.append((entries[k].key, entries[k].prefix, s..<e))
        }
        spans.sort { $0.prefix != $1.prefix ? $0.prefix < $1.prefix : Self.compare($0.key, $1.key) < 0 }
        for (n, s) in spans.enumerated() where n > 0 && Self.compare(s.key, spans[n - 1].key) == 0 {
            throw FastJSON.Unsupported(reason: "key \(s.key) encoded twice")
        }
        scratch.removeAll(keepingCapacity: true)
        for (n, s) in spans.enumerated() {
            if n > 0 { scratch.append(UInt8(ascii: ",")) }
            scratch.append(contentsOf: out[s.range])
        }
        let bodyStart = f.start + 1
        out.replaceSubrange(bodyStart..<end, with: scratch)
        out.append(UInt8(ascii: "}"))
    }

    /// A key's first eight UTF-8 bytes, big-endian: keys that differ there compare as their prefixes.
    static func prefix(_ key: String) -> UInt64 {
        var p: UInt64 = 0, n = 0
        for b in key.utf8 {
            p = p << 8 | UInt64(b)
            n += 1
            if n == 8 { return p }
        }
        return n == 0 ? 0 : p << (8 * UInt64(8 - n))
    }

    /// Keys in UTF-8 byte order (as `JSONEncoder` sorts them): <0, 0, >0.
    static func compare(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                if n > 0, let p = x.baseAddress, let q = y.baseAddress {
                    let c = memcmp(p, q, n)
                    if c != 0 { return Int(c) }
                }
                return x.count - y.count
            }
        }
    }

    /// Bytes known to need no escaping (keys and punctuation of hand-written types).
    @inline(__always) func raw(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    // MARK: Values

    func encodeValue<T: Encodable>(_ value: T, topLevel: Bool = false) throws {
        // Type identity, not dynamic casts: the common leaves are written directly.
        if T.self == String.self { return writeString(unsafeBitCast(value, to: String.self)) }
        if T.self == Int.self { return writeInteger(unsafeBitCast(value, to: Int.self)) }
        if T.self == Bool.self { return writeBool(unsafeBitCast(value, to: Bool.self)) }
        if T.self == Double.self { return try writeFloating(unsafeBitCast(value, to: Double.self)) }
        if T.self == Date.self { return try writeDate(unsafeBitCast(value, to: Date.self)) }
        if T.self == UInt64.self { return writeInteger(unsafeBitCast(value, to: UInt64.self)) }
        if T.self == FeedItem.self { return try unsafeBitCast(value, to: FeedItem.self).writeJSON(self) }
        if T.self == Data.self || T.self == URL.self || T.self == Decimal.self {
            throw FastJSON.Unsupported(reason: "\(T.self) has its own JSONEncoder strategy")
        }
        depth += 1
        defer { depth -= 1 }
        if encoders.count < depth { encoders.append(JSONValueEncoder(sink: self)) }
        let encoder = encoders[depth - 1]
        encoder.level = depth
        let mark = out.count
        let framesBefore = frames.count
        try value.encode(to: encoder)
        // Close what this value opened (and anything it left open inside).
        while frames.count > framesBefore { try closeTop() }
        if out.count == mark {
            // Encoded nothing: Foundation writes an empty object (and refuses it at the top level).
            if topLevel { throw FastJSON.Unsupported(reason: "top-level value encoded nothing") }
            out.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")])
        }
    }

    func writeNull() { out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    func writeBool(_ b: Bool) {
        if b { out.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
    }

    func writeInteger<I: BinaryInteger>(_ v: I) {
        if v >= 0 && v < 10 {
            out.append(UInt8(ascii: "0") + UInt8(v))
            return
        }
        out.append(contentsOf: v.description.utf8)
    }

    /// Its shortest description, without a trailing ".0" (as `JSONEncoder` writes Double and Float).
    func writeFloating<F: BinaryFloatingPoint & CustomStringConvertible>(_ v: F) throws {
        guard v.isFinite else { throw FastJSON.Unsupported(reason: "non-finite number") }
        var s = v.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        out.append(contentsOf: s.utf8)
    }

    /// `"YYYY-MM-DDTHH:MM:SSZ"` in UTC, fractions of a second dropped (ISO8601DateFormatter's default).
    func writeDate(_ date: Date) throws {
        let t = date.timeIntervalSince1970
        guard t.isFinite else { throw FastJSON.Unsupported(reason: "non-finite date") }
        let secs = Int64(t.rounded(.down))
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        let date = LocalDate(dayNumber: Int(days))
        let (year, month, day) = (Int64(date.year), Int64(date.month), Int64(date.day))
        guard (1...9999).contains(year) else { throw FastJSON.Unsupported(reason: "year \(year)") }
        func two(_ v: Int64) {
            out.append(UInt8(ascii: "0") + UInt8(v / 10))
            out.append(UInt8(ascii: "0") + UInt8(v % 10))
        }
        out.append(UInt8(ascii: "\""))
        two(year / 100); two(year % 100)
        out.append(UInt8(ascii: "-")); two(month)
        out.append(UInt8(ascii: "-")); two(day)
        out.append(UInt8(ascii: "T")); two(rem / 3600)
        out.append(UInt8(ascii: ":")); two(rem / 60 % 60)
        out.append(UInt8(ascii: ":")); two(rem % 60)
        out.append(UInt8(ascii: "Z"))
        out.append(UInt8(ascii: "\""))
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A JSON string: `"` and `\` escaped, `\b \t \n \f \r`, other control characters as `\u00XX`;
    /// everything else (slashes, non-ASCII) as it is.
    func writeString(_ s: String) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            var i = 0
            let n = bytes.count
            while i < n {
                let b = bytes[i]
                if b >= 0x20 && b != 0x22 && b != 0x5C {
                    i += 1
                    continue
                }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                out.append(UInt8(ascii: "\\"))
                switch b {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                default:
                    out.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), Self.hex[Int(b >> 4)], Self.hex[Int(b & 0xF)]])
                }
                i += 1
                runStart = i
            }
            if runStart < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// The `Encoder` handed to a value's `encode(to:)`; one per nesting depth, reused.
final class JSONValueEncoder: Encoder {
    unowned let sink: JSONSink
    /// Only for `discarding`: the throwaway sink it writes to.
    var owned: JSONSink?
    var level = 0
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(sink: JSONSink) { self.sink = sink }

    /// For what is not supported (`superEncoder`): marks `sink` so that its result is not used, and
    /// lets the value go on encoding into a throwaway buffer.
    static func discarding(poisoning sink: JSONSink, _ reason: String) -> JSONValueEncoder {
        if sink.poisoned == nil { sink.poisoned = reason }
        let scrap = JSONSink()
        let e = JSONValueEncoder(sink: scrap)
        e.owned = scrap
        return e
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(JSONKeyedContainer<Key>(sink: sink, frame: sink.open(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        JSONUnkeyedContainer(sink: sink, frame: sink.open(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { JSONSingleValue(sink: sink) }
}

struct JSONKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: JSONSink
    let frame: Int
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeNull() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); try sink.writeFloating(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); try sink.writeFloating(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try sink.objectEntry(frame, key.stringValue); sink.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try sink.objectEntry(frame, key.stringValue)
        try sink.encodeValue(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        sink.entry(frame, key.stringValue)
        return KeyedEncodingContainer(JSONKeyedContainer<NestedKey>(sink: sink, frame: sink.open(object: true)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        sink.entry(frame, key.stringValue)
        return JSONUnkeyedContainer(sink: sink, frame: sink.open(object: false))
    }

    mutating func superEncoder() -> any Encoder { JSONValueEncoder.discarding(poisoning: sink, "superEncoder") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { JSONValueEncoder.discarding(poisoning: sink, "superEncoder") }
}

struct JSONUnkeyedContainer: UnkeyedEncodingContainer {
    let sink: JSONSink
    let frame: Int
    var codingPath: [any CodingKey] { [] }
    var count: Int { sink.frames.indices.contains(frame) ? sink.frames[frame].count : 0 }

    mutating func encodeNil() throws { try sink.arrayElement(frame); sink.writeNull() }
    mutating func encode(_ value: Bool) throws { try sink.arrayElement(frame); sink.writeBool(value) }
    mutating func encode(_ value: String) throws { try sink.arrayElement(frame); sink.writeString(value) }
    mutating func encode(_ value: Double) throws { try sink.arrayElement(frame); try sink.writeFloating(value) }
    mutating func encode(_ value: Float) throws { try sink.arrayElement(frame); try sink.writeFloating(value) }
    mutating func encode(_ value: Int) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { try sink.arrayElement(frame); sink.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try sink.arrayElement(frame)
        try sink.encodeValue(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        sink.element(frame)
        return KeyedEncodingContainer(JSONKeyedContainer<NestedKey>(sink: sink, frame: sink.open(object: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.element(frame)
        return JSONUnkeyedContainer(sink: sink, frame: sink.open(object: false))
    }

    mutating func superEncoder() -> any Encoder { JSONValueEncoder.discarding(poisoning: sink, "superEncoder") }
}

struct JSONSingleValue: SingleValueEncodingContainer {
    let sink: JSONSink
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { sink.writeNull() }
    mutating func encode(_ value: Bool) throws { sink.writeBool(value) }
    mutating func encode(_ value: String) throws { sink.writeString(value) }
    mutating func encode(_ value: Double) throws { try sink.writeFloating(value) }
    mutating func encode(_ value: Float) throws { try sink.writeFloating(value) }
    mutating func encode(_ value: Int) throws { sink.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { sink.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { sink.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { sink.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { sink.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { sink.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { sink.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { sink.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { sink.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { sink.writeInteger(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try sink.encodeValue(value) }
}


// MARK: Hand-written (the Chronicle's rows: the most frequent large response)

extension FeedItem {
    /// The synthesized `Encodable`'s keys in sorted order; `FastJSONTests` compares with `JSONEncoder`.
    func writeJSON(_ w: JSONSink) throws {
        w.raw("{\"activity\":")
        try activity.writeJSON(w)
        if let c = criticality { w.raw(",\"criticality\":"); w.writeString(c.rawValue) }
        w.raw(",\"level\":"); w.writeInteger(level.rawValue)
        w.raw(",\"marker\":"); w.writeString(marker.rawValue)
        w.raw(",\"number\":"); w.writeInteger(number)
        w.raw(",\"overdue\":"); w.writeBool(overdue)
        w.raw(",\"premium\":"); w.writeBool(premium)
        if let r = responsible { w.raw(",\"responsible\":"); w.writeString(r) }
        w.raw(",\"status\":"); w.writeString(status.rawValue)
        w.raw(",\"subject\":"); w.writeString(subject)
        if let t = type { w.raw(",\"type\":"); w.writeString(t.rawValue) }
        w.raw(",\"unaccepted\":"); w.writeBool(unaccepted)
        w.raw("}")
    }
}

extension Activity {
    func writeJSON(_ w: JSONSink) throws {
        w.raw("{")
        if let actor { w.raw("\"actor\":"); w.writeString(actor); w.raw(",") }
        w.raw("\"at\":"); try w.writeDate(at)
        w.raw(",\"sequence\":"); w.writeInteger(sequence)
        w.raw(",\"type\":"); w.writeString(type)
        w.raw("}")
    }
}

extension TicketDetail {
    /// The detail with its `ticket` already rendered (`ticketJSON`, as `encodeJSON(ticket)` gives it):
    /// the same bytes as `encodeJSON(self)`, which `FastJSONTests` checks.
    func json(ticketJSON: [UInt8]) throws -> [UInt8] {
        let w = JSONSink()
        w.out.reserveCapacity(ticketJSON.count + 256)
        w.raw("{")
        if let activity { w.raw("\"activity\":"); try activity.writeJSON(w); w.raw(",") }
        w.raw("\"contactName\":"); w.writeString(contactName)
        if let organisationName { w.raw(",\"organisationName\":"); w.writeString(organisationName) }
        w.raw(",\"reactionBreached\":"); w.writeBool(reactionBreached)
        w.raw(",\"resolutionBreached\":"); w.writeBool(resolutionBreached)
        w.raw(",\"ticket\":"); w.out.append(contentsOf: ticketJSON)
        if let tierName { w.raw(",\"tierName\":"); w.writeString(tierName) }
        w.raw("}")
        return w.out
    }
}
