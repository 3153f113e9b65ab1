// Photo files <-> pixels on Apple platforms (ImageIO + CoreGraphics; neither exists on Linux,
// where the command line reads .npy pixels and writes PNG with PNG.encode).
// Decoding follows docs/preprocessing.md section 1: the EXIF orientation is applied and an alpha
// channel is composited over white. Pixels are drawn into an sRGB context, so a Display P3 photo is
// converted to sRGB (Python reads the stored values as they are; for sRGB photos, the common case,
// the two agree).

#if canImport(ImageIO) && canImport(CoreGraphics)
    import CoreGraphics
    import Foundation
    import ImageIO

    public enum ImageFile {
        public static func read(_ url: URL) throws -> RGBImage {
            guard let source = CGImageSourceCreateWithURL(url as CFURL, nil) else {
                throw CoreError("\(url.path): not an image file ImageIO can read")
            }
            return try decode(source, name: url.lastPathComponent)
        }

        public static func read(data: Data) throws -> RGBImage {
            guard let source = CGImageSourceCreateWithData(data as CFData, nil) else {
                throw CoreError("not an image ImageIO can read")
            }
            return try decode(source, name: "image")
        }

        static func decode(_ source: CGImageSource, name: String) throws -> RGBImage {
            guard let props = CGImageSourceCopyPropertiesAtIndex(source, 0, nil) as? [CFString: Any],
                let w = props[kCGImagePropertyPixelWidth] as? Int, let h = props[kCGImagePropertyPixelHeight] as? Int
            else { throw CoreError("\(name): ImageIO reports no image size") }
            // a "thumbnail" at full size is ImageIO's way to get the orientation applied
            let options: [CFString: Any] = [
                kCGImageSourceCreateThumbnailFromImageAlways: true,
                kCGImageSourceCreateThumbnailWithTransform: true,
                kCGImageSourceThumbnailMaxPixelSize: max(w, h),
                kCGImageSourceShouldCacheImmediately: true,
            ]
            guard let image = CGImageSourceCreateThumbnailAtIndex(source, 0, options as CFDictionary) else {
                throw CoreError("\(name): ImageIO could not decode it")
            }
            return try pixels(of: image)
        }

        /// Any CGImage -> RGB pixels, drawn over white into an sRGB RGBA8 context.
        public static func pixels(of image: CGImage) throws -> RGBImage {
            let (w, h) = (image.width, image.height)
            var rgba = [UInt8](repeating: 255, count: w * h * 4)
            guard let space = CGColorSpace(name: CGColorSpace.sRGB) else { throw CoreError("no sRGB colour space") }
            let drawn = rgba.withUnsafeMutableBytes { buf -> Bool in
                guard
                    let ctx = CGContext(
                        data: buf.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w * 4,
                        space: space, bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue)
                else { return false }
                ctx.setFillColor(CGColor(srgbRed: 1, green: 1, blue: 1, alpha: 1))
                ctx.fill(CGRect(x: 0, y: 0, width: w, height: h))
                ctx.interpolationQuality = .none
                ctx.draw(image, in: CGRect(x: 0, y: 0, width: w, height: h))
                return true
            }
            guard drawn else { throw CoreError("could not make a \(w)x\(h) drawing context") }
            return try RGBImage(height: h, width: w, rgba: rgba)
        }

        /// Pixels -> a CGImage (for display and for writing files).
        public static func cgImage(_ image: RGBImage) -> CGImage? {
            guard let space = CGColorSpace(name: CGColorSpace.sRGB),
                let provider = CGDataProvider(data: Data(image.rgba()) as CFData)
            else { return nil }
            return CGImage(
                width: image.width, height: image.height, bitsPerComponent: 8, bitsPerPixel: 32,
                bytesPerRow: image.width * 4, space: space,
                bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.noneSkipLast.rawValue), provider: provider,
                decode: nil, shouldInterpolate: false, intent: .defaultIntent)
        }
    }
#endif
