// A PNG writer that needs no zlib: 8-bit RGB, filter 0, and the zlib stream made of stored
// (uncompressed) deflate blocks, which every PNG reader accepts (RFC 1950/1951, PNG spec 1.2).
// Files are about as large as the raw pixels; the command line writes results with it on
// platforms without ImageIO (Linux). Apple platforms can also use ImageFile (ImageIO).

import Foundation

public enum PNG {
    public static func encode(_ image: RGBImage) -> Data {
        var raw = [UInt8]()
        raw.reserveCapacity(image.height * (1 + image.width * 3))
        let row = image.width * 3
        for y in 0..<image.height {
            raw.append(0)  // filter type None
            raw += image.pixels[(y * row)..<((y + 1) * row)]
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr = bigEndian(UInt32(image.width)) + bigEndian(UInt32(image.height))
        ihdr += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
        chunk("IHDR", ihdr, into: &out)
        chunk("IDAT", zlibStored(raw), into: &out)
        chunk("IEND", [], into: &out)
        return Data(out)
    }

    public static func write(_ image: RGBImage, to url: URL) throws {
        do { try encode(image).write(to: url, options: .atomic) } catch {
            throw CoreError("\(url.path): cannot write it (\(error.localizedDescription))")
        }
    }

    /// A zlib stream of stored deflate blocks (at most 65535 bytes each).
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]  // deflate, 32K window; check bits make 0x7801 % 31 == 0
        var offset = 0
        repeat {
            let n = min(65535, data.count - offset)
            let last: UInt8 = offset + n == data.count ? 1 : 0
            out.append(last)  // BFINAL, BTYPE 00 (stored)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[offset..<(offset + n)]
            offset += n
        } while offset < data.count
        return out + bigEndian(adler32(data))
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var i = 0
        while i < data.count {  // 5552: the most bytes before the sums can overflow
            let end = min(data.count, i + 5552)
            while i < end {
                a += UInt32(data[i])
                b += a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func chunk(_ type: String, _ body: [UInt8], into out: inout [UInt8]) {
        let typed = Array(type.utf8) + body
        out += bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
}
