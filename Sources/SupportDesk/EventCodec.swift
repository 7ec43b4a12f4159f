import Foundation

/// Turns events into log payloads and back, upgrading older schema versions.
///
/// Payloads are written in `CompactCoding` (keyed binary, several times faster than Foundation's JSON
/// coders); payloads that are JSON (a `{` first) are read too, so events written as JSON — by hand,
/// by an importer, or by early builds — still decode. `helpdesk dump` shows every payload as JSON.
///
/// Rules for changing an event (docs/domain.md): adding an optional field needs nothing; anything
/// else bumps the type's `schemaVersion` and adds an upgrade here from the old shape, so history
/// written years ago still decodes.
public enum EventCodec {
    public struct Encoded: Sendable, Hashable {
        public var type: String
        public var schemaVersion: UInt16
        public var payload: [UInt8]
    }

    public struct UnknownEvent: Error, CustomStringConvertible {
        public var type: String
        public var schemaVersion: UInt16
        public var description: String { "unknown event type \(type) (schema \(schemaVersion))" }
    }

    /// An event type, and how to read its current schema from a compact payload when it has a
    /// hand-written compact form (FastCompact.swift).
    struct Kind {
        var payload: any EventPayload.Type
        var fast: (@Sendable (Reader) throws -> DeskEvent)?
    }

    private static let byType: [String: Kind] = Dictionary(
        uniqueKeysWithValues: DeskEvent.payloadTypes.map { ($0.type, Kind(payload: $0, fast: fastReader($0))) })

    private static func fastReader<E: EventPayload>(_ kind: E.Type) -> (@Sendable (Reader) throws -> DeskEvent)? {
        guard let fast = kind as? any (EventPayload & FastCompact).Type else { return nil }
        return fastReader(fast: fast)
    }

    private static func fastReader<E: EventPayload & FastCompact>(fast: E.Type) -> @Sendable (Reader) throws -> DeskEvent {
        { r in try E(compactAt: 1, in: r).event }
    }

    public static func makeEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }

    public static func makeDecoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }

    public static func encode(_ event: DeskEvent) throws -> Encoded {
        // The hot types by their hand-written compact form, without boxing the payload.
        switch event {
        case .commentAdded(let e): return fast(e)
        case .statusChanged(let e): return fast(e)
        case .ticketOpened(let e): return fast(e)
        case .ticketAccepted(let e): return fast(e)
        case .answerEvaluated(let e): return fast(e)
        case .ticketClassified(let e): return fast(e)
        case .answerRated(let e): return fast(e)
        case .levelChanged(let e): return fast(e)
        case .participantAdded(let e): return fast(e)
        case .timeLogged(let e): return fast(e)
        default:
            let p = event.payload
            let kind = Swift.type(of: p)
            return Encoded(type: kind.type, schemaVersion: kind.schemaVersion, payload: try CompactCoding.encode(p))
        }
    }

    private static func fast<E: EventPayload & FastCompact>(_ e: E) -> Encoded {
        Encoded(type: E.type, schemaVersion: E.schemaVersion, payload: CompactCoding.payload(e))
    }

    public static func isKnown(_ type: String) -> Bool { byType[type] != nil }

    /// Decodes a payload of `type` written with `schemaVersion`, upgrading it when it is older.
    public static func decode(type: String, schemaVersion: UInt16, payload: some ContiguousBytes & Sendable,
                              with decoder: JSONDecoder? = nil) throws -> DeskEvent {
        try payload.withUnsafeBytes { raw in try decode(type: type, schemaVersion: schemaVersion, bytes: raw, with: decoder) }
    }

    /// The same, from bytes in place (e.g. a record's payload inside the mapped log).
    public static func decode(type: String, schemaVersion: UInt16, bytes raw: UnsafeRawBufferPointer,
                              with decoder: JSONDecoder? = nil) throws -> DeskEvent {
        guard let entry = byType[type] else { throw UnknownEvent(type: type, schemaVersion: schemaVersion) }
        return try decode(entry, type: type, schemaVersion: schemaVersion, bytes: raw, with: decoder)
    }

    /// The same, or nil for a type this build does not know (`isKnown` false) — one lookup of the
    /// type where `isKnown` and then `decode` make two (a rebuild reads every record).
    /// `lists`: notify lists decoded before, whose arrays the events then share (`NotifyListCache`).
    public static func decodeIfKnown(type: String, schemaVersion: UInt16, bytes raw: UnsafeRawBufferPointer,
                                     lists: NotifyListCache? = nil) throws -> DeskEvent? {
        guard let entry = byType[type] else { return nil }
        return try decode(entry, type: type, schemaVersion: schemaVersion, bytes: raw, with: nil, lists: lists)
    }

    private static func decode(_ entry: Kind, type: String, schemaVersion: UInt16, bytes raw: UnsafeRawBufferPointer,
                               with decoder: JSONDecoder?, lists: NotifyListCache? = nil) throws -> DeskEvent {
        guard schemaVersion <= entry.payload.schemaVersion, schemaVersion >= 1 else {
            throw UnknownEvent(type: type, schemaVersion: schemaVersion)
        }
        let kind = entry.payload
        let payload = Payload(raw: raw, decoder: decoder)
        if schemaVersion < kind.schemaVersion {
            return try upgrade(type: type, from: schemaVersion, payload)
        }
        if let fast = entry.fast, raw.first == CompactCoding.marker { return try fast(Reader(bytes: raw, lists: lists)) }
        return try payload.decode(kind).event
    }

    /// A stored payload in either form.
    struct Payload {
        let raw: UnsafeRawBufferPointer
        let decoder: JSONDecoder?
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if raw.first == CompactCoding.marker { return try CompactCoding.decode(type, from: raw) }
            return try (decoder ?? EventCodec.makeDecoder()).decode(type, from: Data(raw))
        }
    }

    // MARK: Upgrades of older schemas

    /// `AnswerRated` schema 1 had `stars` from 1 to 10 and no text; schema 2 has `score` 1…5.
    struct AnswerRatedV1: Decodable {
        var ticket: TicketNumber
        var contact: ContactId
        var comment: CommentNumber?
        var stars: Int
    }

    static func upgrade(type: String, from version: UInt16, _ payload: Payload) throws -> DeskEvent {
        switch (type, version) {
        case (AnswerRated.type, 1):
            let old = try payload.decode(AnswerRatedV1.self)
            let score = min(5, max(1, (old.stars + 1) / 2))
            return .answerRated(AnswerRated(ticket: old.ticket, contact: old.contact, comment: old.comment,
                                            score: score, text: nil))
        default:
            throw UnknownEvent(type: type, schemaVersion: version)
        }
    }
}
