import EventLog
import Foundation
import Hummingbird
import HTTPTypes
import Projections
import ServiceLifecycle
import SupportDesk

let lastEventIDName = HTTPField.Name("Last-Event-ID")!

extension DeskService {
    /// `GET /live` — Server-Sent Events: new activity as it commits. Staff receive every ticket event on
    /// tickets they take part in (`?ticket=N` narrows it to one open ticket page); clients receive
    /// only events on tickets they may reach, and never internal comments. Each event is sent after
    /// the projections have folded it, so a page that reloads on it sees it. `Last-Event-ID` (or `?after=SEQ`) resumes after that event; `?max=N` ends the
    /// stream after N events (tests, scripts); graceful shutdown ends it too.
    func live(_ request: Request, _ principal: Principal) throws -> Response {
        let ticket = request.query("ticket").flatMap(Int.init)
        let max = request.query("max").flatMap(Int.init) ?? Int.max
        // Resume after `Last-Event-ID` (or `?after=SEQ`), else from now.
        let lastSeen = request.headers[lastEventIDName].flatMap { UInt64($0) } ?? request.query("after").flatMap { UInt64($0) }
        let from = (lastSeen ?? store.committedHead) + 1
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let task = Task { [self] in
            try? await cancelWhenGracefulShutdown { [self] in
                var sentInside = 0
                guard max > 0 else { return }
                for try await record in self.store.subscribe(from: from) {
                    guard let n = Streams.ticketNumber(record.stream), ticket == nil || ticket == n else { continue }
                    guard let event = try? EventCodec.decode(type: record.type, schemaVersion: record.schemaVersion, payload: record.payload)
                    else { continue }
                    try await self.runner.waitUntil(record.sequence)
                    guard self.mayReceive(principal, event, ticket: n) else { continue }
                    continuation.yield(ByteBuffer(string: "id: \(record.sequence)\nevent: \(record.type)\ndata: {\"ticket\":\(n),\"sequence\":\(record.sequence),\"type\":\"\(record.type)\"}\n\n"))
                    sentInside += 1
                    if sentInside >= max { break }
                }
            }
            continuation.finish()
        }
        // A comment line every `liveHeartbeat` seconds keeps proxies from closing the stream and lets the
        // server notice a reader that has gone (the write fails and the stream ends).
        let beat = options.liveHeartbeat
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(beat * 1e9))
                if Task.isCancelled { break }
                continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
            }
        }
        // A staff member's open ticket page counts as viewing it for as long as its stream lasts.
        if let n = ticket, case .staff(let id) = principal.party, max == Int.max {
            viewers.enter(n, id)
            let viewers = self.viewers
            continuation.onTermination = { _ in task.cancel(); heartbeat.cancel(); viewers.leave(n, id) }
        } else {
            continuation.onTermination = { _ in task.cancel(); heartbeat.cancel() }
        }
        let body = ResponseBody(asyncSequence: stream)
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    func mayReceive(_ p: Principal, _ event: DeskEvent, ticket n: TicketNumber) -> Bool {
        switch p.party {
        case .staff(let id):
            return p.role != .staff || view.ticketDetail(n, now: clock.now())?.ticket.involves(id) == true
        case .contact(let id):
            if case .commentAdded(let c) = event, c.isInternal { return false }
            if case .deliveryRecorded = event { return false }
            if case .mailReceived = event { return false }
            return view.clientTicket(contact: id, number: n) != nil
        case .system:
            return false
        }
    }
}
