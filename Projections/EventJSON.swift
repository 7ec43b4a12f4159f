import EventLog
import Foundation
import SupportDesk

/// Turns a payload into JSON for people: desk event types are decoded by the domain's codec (older
/// schemas upgraded); any other payload that already is JSON is shown as such; the rest as base64.
/// Shared by `helpdesk dump` and the HTTP API's `/events`, so both print the same lines.
public enum PayloadRendering {
    static let renderers: [@Sendable (String, UInt16, [UInt8]) -> String?] = [deskEvent]

    @Sendable static func deskEvent(type: String, schemaVersion: UInt16, bytes: [UInt8]) -> String? {
        guard EventCodec.isKnown(type),
              let event = try? EventCodec.decode(type: type, schemaVersion: schemaVersion, payload: bytes) else { return nil }
        let encoder = EventCodec.makeEncoder()
        encoder.outputFormatting.insert(.sortedKeys)
        guard let data = try? encoder.encode(event.payload) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    public static func render(type: String, schemaVersion: UInt16, bytes: [UInt8]) -> (json: String?, base64: String?) {
        for r in renderers {
            if let j = r(type, schemaVersion, bytes) { return (j, nil) }
        }
        if let first = bytes.first(where: { $0 != 32 && $0 != 10 && $0 != 13 && $0 != 9 }), first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
           let obj = try? JSONSerialization.jsonObject(with: Data(bytes)),
           let out = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes]) {
            return (String(decoding: out, as: UTF8.self), nil)
        }
        return (nil, Data(bytes).base64EncodedString())
    }
}

public enum EventJSON {
    /// One record as one line of JSON.
    public static func line(_ r: RecordedEvent) -> String {
        var s = "{\"seq\":\(r.sequence),\"stream\":\(quote(r.stream)),\"version\":\(r.version),\"id\":\"\(r.id.uuidString.lowercased())\""
        s += ",\"type\":\(quote(r.type)),\"schema\":\(r.schemaVersion),\"time\":\"\(time(r.timestampMicros))\""
        s += ",\"meta\":{"
        var parts: [String] = []
        if let a = r.metadata.actor { parts.append("\"actor\":\(quote(a))") }
        if let c = r.metadata.correlationId { parts.append("\"correlation\":\(quote(c))") }
        if let c = r.metadata.causationId { parts.append("\"causation\":\(quote(c))") }
        s += parts.joined(separator: ",") + "}"
        let p = PayloadRendering.render(type: r.type, schemaVersion: r.schemaVersion, bytes: r.payload)
        if let j = p.json { s += ",\"payload\":" + j } else { s += ",\"payload_base64\":\"\(p.base64 ?? "")\"" }
        s += ",\"hash\":\"\(r.hash.map { String(format: "%02x", $0) }.joined())\"}"
        return s
    }

    /// ISO 8601 UTC with microseconds.
    public static func time(_ micros: Int64) -> String {
        let secs = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let frac = micros - secs * 1_000_000
        var t = time_t(secs)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
                      Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), Int(frac))
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
