import BusinessTime
import Foundation

// Hand-written CompactCoding for the hot types: events folded by every projection rebuild and
// written by every command, and the ticket rows a projection flush writes.
//
// Why: going through Codable (an Encoder/Decoder, a container per object, a `CodingKey` per field,
// generic dispatch per value) costs several times the work of the bytes themselves; profiles of a
// rebuild spent about a third of the time decoding events and a quarter encoding `TicketState` rows.
//
// The contract: a `FastCompact` type writes EXACTLY the bytes `CompactCoding` writes through its
// Codable conformance (keys in declaration order as the synthesized code uses them, nil optionals
// left out as `encodeIfPresent` does, raw-value enums as their raw value, custom `encode(to:)` as it
// writes itself), and reads everything the Codable path reads: keys in any order, unknown keys
// skipped, missing or nil optionals as nil; corrupt input throws (a key repeated within one object,
// which no writer produces, keeps its last value here). `FastCompactTests` (a differential
// property test against the Codable path, which stays available as `CompactCoding.encodeViaCodable`
// / `decodeViaCodable`) keeps the two identical: change a field and that test tells you.
//
// `CompactCoding.encode/decode` use the fast path for a fast top-level type and for fast values
// nested inside Codable ones (e.g. a `TicketState` inside a projection's row); `EventCodec` calls
// it directly by event type.

/// A value with a hand-written compact form identical to its Codable one (see the file comment).
protocol FastCompact {
    /// Appends the value (tag included) exactly as `CompactCoding` would through `encode(to:)`.
    func writeCompact(into w: inout CompactWriter)
    /// Reads the value starting at offset `at` (its tag) of the payload.
    init(compactAt at: Int, in r: Reader) throws
}

// MARK: Writing

/// An append-only buffer of compact bytes with helpers for objects and arrays.
///
/// Objects: `let o = w.beginObject()`, then `w.field(...)` / `w.fieldIfPresent(...)` per stored
/// property in declaration order, then `w.end(o)`, which fills in the byte length and entry count.
struct CompactWriter {
    var bytes: [UInt8]
    /// Entries written so far into the innermost open object or array.
    private var count = 0

    init(bytes: [UInt8] = []) { self.bytes = bytes }

    /// An open container: where its tag is, and the entry count of the container around it.
    struct Mark {
        let at: Int
        let outerCount: Int
    }

    // Scalars, each with its tag.

    @inline(__always) mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func int(_ v: Int) {
        let v = Int64(v)
        bytes.append(0x03)
        varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    mutating func uint(_ v: UInt64) {
        bytes.append(0x04)
        varint(v)
    }

    mutating func bool(_ v: Bool) { bytes.append(v ? 0x02 : 0x01) }

    mutating func double(_ v: Double) {
        bytes.append(0x05)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        bytes.append(0x06)
        var s = s
        s.withUTF8 { u in
            varint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
    }

    /// The string `prefix + s`, without building it.
    mutating func string(prefix: StaticString, _ s: String) {
        bytes.append(0x06)
        var s = s
        s.withUTF8 { u in
            varint(UInt64(prefix.utf8CodeUnitCount + u.count))
            prefix.withUTF8Buffer { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: u)
        }
    }

    // Containers.

    mutating func beginObject() -> Mark { open(0x08) }
    mutating func beginArray() -> Mark { open(0x07) }

    private mutating func open(_ tag: UInt8) -> Mark {
        let mark = Mark(at: bytes.count, outerCount: count)
        bytes.append(tag)
        withUnsafeBytes(of: UInt64(0)) { bytes.append(contentsOf: $0) }  // length and count, filled in by `end`
        count = 0
        return mark
    }

    /// Closes the container opened at `m`: its byte length (after the length field) and entry count.
    mutating func end(_ m: Mark) {
        let length = UInt32(bytes.count - m.at - 5), n = UInt32(count)
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: length.littleEndian, toByteOffset: m.at + 1, as: UInt32.self)
            b.storeBytes(of: n.littleEndian, toByteOffset: m.at + 5, as: UInt32.self)
        }
        count = m.outerCount
    }

    /// An object key (varint length, UTF-8), counted as an entry of the open object.
    mutating func key(_ k: StaticString) {
        k.withUTF8Buffer { u in
            varint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
        count += 1
    }

    mutating func key(_ k: String) {
        var k = k
        k.withUTF8 { u in
            varint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
        count += 1
    }

    /// `encode(_:forKey:)`.
    mutating func field<T: FastCompact>(_ k: StaticString, _ v: T) {
        key(k)
        v.writeCompact(into: &self)
    }

    /// `encodeIfPresent(_:forKey:)`: nothing at all for nil.
    mutating func fieldIfPresent<T: FastCompact>(_ k: StaticString, _ v: T?) {
        guard let v else { return }
        key(k)
        v.writeCompact(into: &self)
    }

    /// An element of the open array.
    mutating func element<T: FastCompact>(_ v: T) {
        v.writeCompact(into: &self)
        count += 1
    }
}

// MARK: Reading

extension Reader {
    /// The entries of the object at `at`, checked as `KeyedReader` checks them.
    func object(_ at: Int) throws -> CompactObject {
        guard try byte(at) == 8 else { throw CompactCoding.corrupt("expected an object at \(at)", []) }
        let end = at + 5 + (try u32(at + 1))
        let count = try u32(at + 5)
        guard end <= bytes.count, count <= bytes.count else { throw CompactCoding.corrupt("object runs past the end", []) }
        return CompactObject(reader: self, p: at + 9, end: end, remaining: count)
    }

    /// The elements of the array at `at`, checked as `UnkeyedReader` checks them.
    func array(_ at: Int) throws -> CompactArray {
        guard try byte(at) == 7 else { throw CompactCoding.corrupt("expected an array at \(at)", []) }
        let end = at + 5 + (try u32(at + 1))
        let count = try u32(at + 5)
        guard end <= bytes.count else { throw CompactCoding.corrupt("array runs past the end", []) }
        return CompactArray(reader: self, p: at + 9, end: end, remaining: count)
    }

    /// A required field's value.
    @inline(__always) func value<T: FastCompact>(_ at: Int) throws -> T { try T(compactAt: at, in: self) }

    /// An optional field's value: a nil tag is nil, as `decodeIfPresent` reads it.
    @inline(__always) func optional<T: FastCompact>(_ at: Int) throws -> T? {
        try byte(at) == 0 ? nil : T(compactAt: at, in: self)
    }
}

/// An object key in the payload; matches string literals in a `switch`.
struct CompactKey {
    let base: UnsafeRawPointer
    let count: Int

    @inline(__always) static func ~= (pattern: StaticString, key: CompactKey) -> Bool {
        pattern.utf8CodeUnitCount == key.count && memcmp(pattern.utf8Start, key.base, key.count) == 0
    }

    var string: String { String(decoding: UnsafeRawBufferPointer(start: base, count: count), as: UTF8.self) }
}

/// Iterates an object's entries: `while let (key, at) = try o.next() { switch key { case "name": … } }`.
struct CompactObject {
    let reader: Reader
    var p: Int
    let end: Int
    var remaining: Int

    mutating func next() throws -> (key: CompactKey, value: Int)? {
        guard remaining > 0 else { return nil }
        remaining -= 1
        let n = try reader.length(&p)
        guard p + n <= end else { throw CompactCoding.corrupt("key runs past the object", []) }
        let key = CompactKey(base: reader.bytes.baseAddress! + p, count: n)
        p += n
        let at = p
        p = try reader.skip(at)
        guard p <= end else { throw CompactCoding.corrupt("value runs past the object", []) }
        return (key, at)
    }
}

/// Iterates an array's elements (their offsets).
struct CompactArray {
    let reader: Reader
    var p: Int
    let end: Int
    var remaining: Int

    mutating func next() throws -> Int? {
        guard remaining > 0 else { return nil }
        remaining -= 1
        let at = p
        p = try reader.skip(at)
        guard p <= end else { throw CompactCoding.corrupt("element runs past the array", []) }
        return at
    }

    /// A capacity to reserve: the count, unless the payload is too short to hold that many.
    var capacity: Int { min(remaining, end - p) }
}

/// A required field that was missing: the error the synthesized `init(from:)` throws.
@inline(__always) func required<T>(_ v: T?, _ key: StaticString) throws -> T {
    guard let v else { throw missingKey(key) }
    return v
}

private struct FieldKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

func missingKey(_ key: some CustomStringConvertible) -> DecodingError {
    .keyNotFound(FieldKey(stringValue: key.description), .init(codingPath: [], debugDescription: "no '\(key)'"))
}

// MARK: Standard types, as `CompactEncoder` / `Reader` write and read them

extension String: FastCompact {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.string(self) }
    @inline(__always) init(compactAt at: Int, in r: Reader) throws { self = try r.string(at) }
}

extension Int: FastCompact {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.int(self) }
    @inline(__always) init(compactAt at: Int, in r: Reader) throws {
        let v = try r.int(at)
        guard let i = Int(exactly: v) else { throw CompactCoding.corrupt("\(v) does not fit Int", []) }
        self = i
    }
}

extension UInt64: FastCompact {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.uint(self) }
    @inline(__always) init(compactAt at: Int, in r: Reader) throws { self = try r.uint(at) }
}

extension Bool: FastCompact {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.bool(self) }
    @inline(__always) init(compactAt at: Int, in r: Reader) throws { self = try r.bool(at) }
}

extension Double: FastCompact {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.double(self) }
    @inline(__always) init(compactAt at: Int, in r: Reader) throws { self = try r.double(at) }
}

/// `Date` is a Double of seconds since the reference date (`Sink.encode` / `Reader.decode`).
extension Date: FastCompact {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.double(timeIntervalSinceReferenceDate) }
    @inline(__always) init(compactAt at: Int, in r: Reader) throws {
        self.init(timeIntervalSinceReferenceDate: try r.double(at))
    }
}

extension Sequence where Element: FastCompact {
    /// An unkeyed container of the elements in iteration order (what `Array` and `Set` encode).
    func writeCompactElements(into w: inout CompactWriter) {
        let a = w.beginArray()
        for e in self { w.element(e) }
        w.end(a)
    }
}

/// `Array.encode(to:)`: an unkeyed container of the elements.
extension Array: FastCompact where Element: FastCompact {
    func writeCompact(into w: inout CompactWriter) { writeCompactElements(into: &w) }

    init(compactAt at: Int, in r: Reader) throws {
        var it = try r.array(at)
        self.init()
        reserveCapacity(it.capacity)
        while let e = try it.next() { append(try Element(compactAt: e, in: r)) }
    }
}

/// `Set.encode(to:)`: an unkeyed container in iteration order.
extension Set: FastCompact where Element: FastCompact {
    func writeCompact(into w: inout CompactWriter) { writeCompactElements(into: &w) }

    init(compactAt at: Int, in r: Reader) throws {
        var it = try r.array(at)
        self.init()  // as `Set.init(from:)`: the same capacity, so the same iteration order
        while let e = try it.next() { insert(try Element(compactAt: e, in: r)) }
    }
}

/// `Dictionary.encode(to:)` with String keys: a keyed container in iteration order. On reading, a
/// repeated key keeps its last value and a key that is not valid UTF-8 is an error (its repaired
/// `String` finds no entry), as `Dictionary.init(from:)` over `KeyedReader` has it.
extension Dictionary: FastCompact where Key == String, Value: FastCompact {
    func writeCompact(into w: inout CompactWriter) {
        let o = w.beginObject()
        for (k, v) in self {
            w.key(k)
            v.writeCompact(into: &w)
        }
        w.end(o)
    }

    init(compactAt at: Int, in r: Reader) throws {
        var it = try r.object(at)
        self.init()  // as `Dictionary.init(from:)`
        while let (k, v) = try it.next() {
            let key = k.string
            guard key.utf8.elementsEqual(UnsafeRawBufferPointer(start: k.base, count: k.count)) else { throw missingKey(key) }
            self[key] = try Value(compactAt: v, in: r)
        }
    }
}

/// Raw-value enums: `RawRepresentable`'s `encode(to:)` writes the raw value in a single-value container.
extension FastCompact where Self: RawRepresentable, RawValue == String {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.string(rawValue) }
    init(compactAt at: Int, in r: Reader) throws {
        let raw = try r.string(at)
        guard let v = Self(rawValue: raw) else { throw CompactCoding.corrupt("'\(raw)' is not a \(Self.self)", []) }
        self = v
    }
}

extension FastCompact where Self: RawRepresentable, RawValue == Int {
    @inline(__always) func writeCompact(into w: inout CompactWriter) { w.int(rawValue) }
    init(compactAt at: Int, in r: Reader) throws {
        let raw = try Int(compactAt: at, in: r)
        guard let v = Self(rawValue: raw) else { throw CompactCoding.corrupt("\(raw) is not a \(Self.self)", []) }
        self = v
    }
}
