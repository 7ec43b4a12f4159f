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

    private static let byType: [String: any EventPayload.Type] = Dictionary(
        uniqueKeysWithValues: DeskEvent.payloadTypes.map { ($0.type, $0) })

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
        let p = event.payload
        let kind = Swift.type(of: p)
        return Encoded(type: kind.type, schemaVersion: kind.schemaVersion, payload: try CompactCoding.encode(p))
    }

    public static func isKnown(_ type: String) -> Bool { byType[type] != nil }

    /// Decodes a payload of `type` written with `schemaVersion`, upgrading it when it is older.
    public static func decode(type: String, schemaVersion: UInt16, payload: some ContiguousBytes & Sendable,
                              with decoder: JSONDecoder? = nil) throws -> DeskEvent {
        guard let kind = byType[type], schemaVersion <= kind.schemaVersion, schemaVersion >= 1 else {
            throw UnknownEvent(type: type, schemaVersion: schemaVersion)
        }
        return try payload.withUnsafeBytes { raw -> DeskEvent in
            let payload = Payload(raw: raw, decoder: decoder)
            if schemaVersion < kind.schemaVersion {
                return try upgrade(type: type, from: schemaVersion, payload)
            }
            return try payload.decode(kind).event
        }
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
