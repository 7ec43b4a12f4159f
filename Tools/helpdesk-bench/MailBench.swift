import ArgumentParser
import DeskEngine
import EventLog
import Foundation
import MailDesk
import SupportDesk

struct MailBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "Typical messages (about 5 KB, half of them replies) parsed, threaded and committed; peak memory with a 20 MB attachment.")

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Messages to take in.") var messages: Int = 20_000
    @Option(help: "Concurrent deliveries.") var concurrency: Int = 64
    @Option(help: "Size of the big attachment in MB (0 skips it).") var attachmentMb: Int = 20
    @Option(help: "Folder for scratch data (default: the working directory).") var dir: String?

    func run() async throws {
        var report = Report()
        report.jsonOnly = json
        let folder = try scratchFolder(dir)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try LMDBEventStore(directory: folder.appendingPathComponent("desk"))
        defer { store.close() }
        let processor = try CommandProcessor(store: store, clock: SystemClock())
        try await HistoryGenerator(.init(tickets: 0, seed: 1)).setUp(on: processor)
        let blobs = try BlobStore(root: folder.appendingPathComponent("blobs"))
        let token = MailThreadToken(secret: Array(repeating: 7, count: 32), domain: "desk.example")
        var limits = MailLimits()
        limits.maxMessageBytes = 64 << 20
        let intake = MailIntake(processor: processor, blobs: blobs, token: token, limits: limits)

        // First, alone: one message with a big attachment, for the peak memory of the whole process.
        if attachmentMb > 0 {
            let big = Self.bigMessage(megabytes: attachmentMb)
            let (r, _) = try await intake.receive(big)
            guard r.disposition == "new" else { throw ValidationError("the big message was \(r.disposition)") }
            report.add("mail_20mb_peak_rss_mb", "peak memory after a \(attachmentMb) MB attachment", peakRSSMegabytes(), "MB")
        }

        // Waves: half new messages, then as many replies (threaded by our token) to the tickets they opened.
        _ = Self.body
        let wave = max(2, min(1000, messages / 4)) / 2 * 2
        // Only the intake is timed: messages are made between the timed stretches.
        var done = 0, replies = 0, refused = 0
        var elapsed = 0.0
        var latencies: [Double] = []
        while done < messages {
            let n = min(wave, messages - done) / 2
            let news = (0..<n).map { Self.message(i: done + $0, replyTo: nil) }
            var t0 = monotonicSeconds()
            let (opened, l1, r1) = await Self.ingest(news, intake: intake, concurrency: concurrency)
            elapsed += monotonicSeconds() - t0
            let answers = opened.enumerated().map { k, t in
                Self.message(i: done + n + k, replyTo: t.map { token.messageId(ticket: $0, comment: 2, recipient: 0) })
            }
            t0 = monotonicSeconds()
            let (threaded, l2, r2) = await Self.ingest(answers, intake: intake, concurrency: concurrency)
            elapsed += monotonicSeconds() - t0
            replies += zip(opened, threaded).filter { $0 == $1 && $0 != nil }.count
            latencies += l1 + l2
            refused += r1 + r2
            done += 2 * n
        }
        let sorted = latencies.sorted()
        report.add("mail_messages_per_s", "messages parsed, threaded and committed (\(concurrency) at once)", Double(done) / elapsed, "messages/s")
        report.add("mail_p50_ms", "one message, p50", percentile(sorted, 0.5), "ms")
        report.add("mail_p99_ms", "one message, p99", percentile(sorted, 0.99), "ms")
        report.add("mail_replies_threaded", "replies that landed in their ticket", Double(replies), "")
        report.add("mail_refused", "messages refused (should be 0)", Double(refused), "")
        report.add("peak_rss_mb", "peak memory", peakRSSMegabytes(), "MB")
        report.print(json: json, context: ["messages": String(done), "machine": ProcessInfo.processInfo.hostName])
    }

    /// Takes messages in, `concurrency` at a time; returns the ticket of each (in order), latencies and refusals.
    static func ingest(_ batch: [[UInt8]], intake: MailIntake, concurrency: Int) async -> ([Int?], [Double], Int) {
        await withTaskGroup(of: (Int, Int?, Double, Bool).self) { group in
            var tickets = [Int?](repeating: nil, count: batch.count)
            var lat: [Double] = []
            var refused = 0
            var next = 0
            func add() {
                let i = next, m = batch[i]
                next += 1
                group.addTask {
                    let s = monotonicSeconds()
                    do {
                        let (r, _) = try await intake.receive(m)
                        return (i, r.ticket, (monotonicSeconds() - s) * 1000, true)
                    } catch {
                        return (i, nil, (monotonicSeconds() - s) * 1000, false)
                    }
                }
            }
            while next < min(concurrency, batch.count) { add() }
            for await (i, t, l, ok) in group {
                tickets[i] = t
                lat.append(l)
                if !ok { refused += 1 }
                if next < batch.count { add() }
            }
            return (tickets, lat, refused)
        }
    }

    static let paragraph = """
    Добрый день! После обновления до версии 5.2 при импорте каталога из 1С появляется ошибка «Не удалось \
    разобрать файл», хотя тот же файл вчера загружался без проблем. Мы проверили права на папку upload и \
    свободное место на диске. Лог во вложении не помещается, поэтому копирую последние строки ниже. Good \
    afternoon, the same happens on our staging server with the English locale, so it is not the encoding.
    """

    /// The text of every message (3 KB of Russian and English), quoted-printable: made once, outside the timing.
    static let body: [UInt8] = {
        var text = ""
        while text.utf8.count < 3000 { text += paragraph + "\n\n" }
        return MailComposerBridge.quotedPrintable(text)
    }()

    /// A typical message of about 5 KB: three Received lines, a DKIM signature, quoted-printable text.
    static func message(i: Int, replyTo: String?) -> [UInt8] {
        let org = i % 20
        var headers = """
        Received: from mx\(i % 7).org\(org).example (mx.org\(org).example [192.0.2.\(i % 250)]) by mail.desk.example with ESMTPS id \(i)
        Received: from [10.0.0.\(i % 200)] by mx.org\(org).example with ESMTPSA id q\(i); Wed, 05 Mar 2025 12:00:00 +0300
        Received: by 2002:a05:6a10:\(i % 9999) with SMTP id x; Wed, 05 Mar 2025 12:00:00 +0300
        DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=org\(org).example; s=mail; h=from:to:subject:date:message-id;
         bh=\(String(repeating: "Q", count: 44)); b=\(String(repeating: "abcdEFGH", count: 40))
        From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <user\(i % 50)@org\(org).example>
        To: support@desk.example
        Subject: \(replyTo == nil ? "" : "Re: ")=?UTF-8?B?0J7RiNC40LHQutCwINC40LzQv9C+0YDRgtCw?= \(i)
        Date: Wed, 05 Mar 2025 12:00:00 +0300
        Message-ID: <bench-\(i)-\(UUID().uuidString)@org\(org).example>
        MIME-Version: 1.0
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable

        """
        if let r = replyTo { headers = "In-Reply-To: <\(r)>\nReferences: <\(r)>\n" + headers }
        return Array(headers.replacingOccurrences(of: "\n", with: "\r\n").utf8) + body
    }

    /// One message with a big PDF-like attachment, built straight into bytes.
    static func bigMessage(megabytes: Int) -> [UInt8] {
        var out = Array("""
        From: Big Sender <big@org1.example>\r
        To: support@desk.example\r
        Subject: Logs\r
        Message-ID: <big-1@org1.example>\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed; boundary="b1"\r
        \r
        --b1\r
        Content-Type: text/plain; charset=utf-8\r
        \r
        The full log is attached.\r
        --b1\r
        Content-Type: application/pdf; name="log.pdf"\r
        Content-Disposition: attachment; filename="log.pdf"\r
        Content-Transfer-Encoding: base64\r
        \r

        """.utf8)
        let raw = megabytes << 20
        out.reserveCapacity(out.count + raw * 4 / 3 + raw / 38 + 64)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var produced = 0
        while produced < raw {
            for _ in 0..<19 {  // 19 groups of 4 characters = 76 per line, 57 bytes
                state = state &* 6364136223846793005 &+ 1442695040888963407
                for k in 0..<4 { out.append(alphabet[Int((state >> (58 - 6 * UInt64(k))) & 63)]) }
            }
            out.append(13); out.append(10)
            produced += 57
        }
        out += Array("--b1--\r\n".utf8)
        return out
    }
}

import Mail
enum MailComposerBridge {
    static func quotedPrintable(_ s: String) -> [UInt8] { MailComposer.quotedPrintable(Array(s.utf8)) }
}
