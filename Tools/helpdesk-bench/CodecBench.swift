import ArgumentParser
import Foundation
@_spi(Codec) import SupportDesk

/// Encode and decode of one payload per hot event type and of a ticket row, through the hand-written
/// compact forms (what the desk uses) and through Codable alone (what it used before), in one binary.
struct CodecBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec", abstract: "Event payload and ticket row encode/decode, fast path vs Codable (ns per operation).")
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Operations per round (the best of 5 rounds counts).") var iterations: Int = 20_000

    static let samples: [(String, String)] = [
        ("CommentAdded", #"{"ticket":12345,"comment":3,"author":"staff:anna","text":"Добрый день! Исправлено, проверьте, пожалуйста.","isInternal":false,"notify":["contact:user17","staff:anna","staff:pavel"],"attachments":[],"channel":"email"}"#),
        ("StatusChanged", #"{"ticket":12345,"from":"accepted","to":"resolved","by":"staff:anna"}"#),
        ("TicketOpened", #"{"ticket":12345,"channel":"email","subject":"Bench 3-17","body":"Не работает импорт, см. вложение.","contact":"user17","organisation":"org3","language":"ru","openedBy":"system:mail","premium":false,"participants":["anna","dmitry","elena","olga","pavel"],"tierId":"standard","reactionDue":"2026-03-02T10:00:00Z","resolutionDue":"2026-03-03T10:00:00Z","escalationDue":"2026-03-02T08:00:00Z","attachments":[{"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","filename":"import.log","contentType":"text/plain","size":2048}],"externalId":"<bench-3-17@mail.example>"}"#),
        ("TicketAccepted", #"{"ticket":12345,"by":"anna"}"#),
        ("AnswerEvaluated", #"{"ticket":12345,"staff":"anna","evaluation":{"kind":2,"volume":"short","links":1,"screenshots":0,"help":1}}"#),
        ("TicketClassified", #"{"ticket":12345,"classification":{"type":"incident","criticality":"normal","direction":"Billing","directionType":"Invoices"},"by":"anna"}"#),
        ("AnswerRated", #"{"ticket":12345,"contact":"user17","comment":3,"score":5,"text":"Спасибо!"}"#),
        ("LevelChanged", #"{"ticket":12345,"from":1,"to":2,"by":"anna"}"#),
        ("ParticipantAdded", #"{"ticket":12345,"staff":"dev","role":"co-executor","by":"staff:anna"}"#),
        ("TimeLogged", #"{"ticket":12345,"staff":"dev","minutes":45,"on":"2026-03-02","note":"debugging"}"#),
    ]

    func run() async throws {
        var report = Report()
        report.jsonOnly = json
        var sink = 0
        /// The best of 5 rounds, in ns per operation.
        func measure(_ body: () throws -> Int) rethrows -> Double {
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = monotonicSeconds()
                for _ in 0..<iterations { sink &+= try body() }
                best = min(best, (monotonicSeconds() - t0) * 1e9 / Double(iterations))
            }
            return best
        }
        func add(_ name: String, _ what: String, fast: Double, codable: Double) {
            report.add("\(name)_\(what)_fast_ns", "\(name) \(what), fast", fast, "ns")
            report.add("\(name)_\(what)_codable_ns", "\(name) \(what), Codable", codable, "ns")
            report.add("\(name)_\(what)_speedup", "\(name) \(what), speed-up", codable / fast, "x")
        }

        var state = DeskState()
        for (type, json) in Self.samples {
            let schema: UInt16 = type == "AnswerRated" ? 2 : 1
            let event = try EventCodec.decode(type: type, schemaVersion: schema, payload: Array(json.utf8))
            state.evolve(event, at: Date(timeIntervalSince1970: 1_772_431_200))
            let payload = event.payload
            let bytes = try EventCodec.encode(event).payload
            guard bytes == (try CompactCoding.encodeViaCodable(payload)) else { throw ValidationError("\(type): the fast bytes differ") }
            let kind = Swift.type(of: payload)
            let encodeFast = try measure { try EventCodec.encode(event).payload.count }
            let encodeCodable = try measure { try CompactCoding.encodeViaCodable(payload).count }
            let decodeFast = try measure { try EventCodec.decode(type: type, schemaVersion: schema, payload: bytes).ticket ?? 0 }
            let decodeCodable = try measure { try CompactCoding.decodeViaCodable(kind, from: bytes).event.ticket ?? 0 }
            add(type, "encode", fast: encodeFast, codable: encodeCodable)
            add(type, "decode", fast: decodeFast, codable: decodeCodable)
        }
        // A ticket row as a projection flush writes it: the fold of the samples (a few comments more).
        guard var ticket = state.tickets[12345] else { throw ValidationError("the samples opened no ticket") }
        for n in 4...8 { ticket.comments.append(ticket.comments[0]); ticket.comments[ticket.comments.count - 1].number = n }
        let row = try CompactCoding.encode(ticket)
        guard row == (try CompactCoding.encodeViaCodable(ticket)) else { throw ValidationError("TicketState: the fast bytes differ") }
        add("TicketState", "encode", fast: try measure { try CompactCoding.encode(ticket).count },
            codable: try measure { try CompactCoding.encodeViaCodable(ticket).count })
        add("TicketState", "decode", fast: try measure { try CompactCoding.decode(TicketState.self, from: row).number },
            codable: try measure { try CompactCoding.decodeViaCodable(TicketState.self, from: row).number })
        report.print(json: json, context: ["checksum": String(sink), "row_bytes": String(row.count)])
    }
}
