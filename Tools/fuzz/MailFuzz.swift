// libFuzzer entry point for the Mail module. Not part of the Swift package: built by
// Tools/fuzz/run-mail-fuzz.sh together with Sources/Mail/*.swift (one module, so internal API is visible).
import Foundation

@inline(never)
func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = Array(UnsafeBufferPointer(start: data, count: size))
    let m = MailMessage.parse(raw)

    // Every field of the parsed message.
    for a in m.from + m.to + m.cc + m.replyTo { blackHole(a.name?.utf8.count ?? 0); blackHole(a.address.utf8.count) }
    blackHole(m.messageId); blackHole(m.inReplyTo); blackHole(m.references)
    blackHole(m.subject.utf8.count); blackHole(m.date?.timeIntervalSince1970)
    blackHole(m.text.utf8.count); blackHole(m.newText.utf8.count); blackHole(m.quotedText?.utf8.count)
    blackHole(m.htmlWasConverted); blackHole(m.isAutomatic); blackHole(m.problems)
    if m.newText.utf8.count > m.text.utf8.count + 1 { fatalError("newText longer than text") }

    // Header words and structured header syntax on every field.
    for h in m.headers {
        let decoded = MailEncoding.decodeEncodedWords(h.value)
        blackHole(decoded.utf8.count)
        blackHole(HeaderSyntax.parameters(h.value))
        blackHole(HeaderSyntax.addresses(h.value))
        blackHole(HeaderSyntax.messageIds(h.value))
        if h.name.lowercased().hasSuffix("date") { blackHole(HeaderSyntax.date(h.value)) }  // a formatter each: slow
        blackHole(m.header(h.name)); blackHole(m.headerValues(h.name).count)
        blackHole(MailEncoding.encodeHeaderWord(decoded))
    }

    // Every attachment, whole and streamed; both must agree.
    for a in m.attachments {
        blackHole(a.filename); blackHole(a.contentType); blackHole(a.contentId); blackHole(a.disposition)
        blackHole(a.isInline); blackHole(a.charset)
        if a.encodedSize > size { fatalError("attachment range outside the message") }
        let whole = a.decodedBytes()
        var streamed: [UInt8] = []
        a.decode(chunkSize: 100) { buf in
            if buf.count > 100 { fatalError("chunk larger than requested") }
            streamed.append(contentsOf: buf)
        }
        if streamed != whole { fatalError("streamed decode differs from whole decode") }
        if a.contentType.hasPrefix("text/") { blackHole(MailEncoding.decode(bytes: whole, charset: a.charset).utf8.count) }
    }

    // The codecs on the raw input.
    blackHole(MailEncoding.quotedPrintableDecode(raw).count)
    blackHole(MailEncoding.base64Decode(raw).count)
    return 0
}
