@file:Suppress("UNCHECKED_CAST")

package pix2mobile.core

/**
 * A small JSON reader for manifest.json, bundle.json and the golden case files.
 *
 * Written here rather than taken from org.json so the core has no dependency at all: Android's
 * built-in org.json is stubbed in local unit tests, and the command-line jar stays one file.
 * Values: objects are [Map], arrays [List], numbers [Double] (exact for every integer a manifest
 * holds and for Python's shortest round-trip floats), strings, booleans and null.
 */
object Json {
    fun parse(text: String): Any? {
        val p = Parser(text)
        p.skipSpace()
        val value = p.value()
        p.skipSpace()
        if (!p.atEnd()) throw p.error("unexpected text after the JSON value")
        return value
    }

    private class Parser(
        val s: String,
    ) {
        var i = 0

        fun atEnd() = i >= s.length

        fun error(what: String) = FormatError("JSON: $what at offset $i")

        fun skipSpace() {
            while (i < s.length && s[i].isWhitespace()) i++
        }

        fun value(): Any? {
            if (atEnd()) throw error("unexpected end")
            return when (val c = s[i]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> if (c == '-' || c.isDigit()) number() else throw error("unexpected character '$c'")
            }
        }

        fun literal(
            word: String,
            v: Any?,
        ): Any? {
            if (!s.startsWith(word, i)) throw error("expected $word")
            i += word.length
            return v
        }

        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            i++
            skipSpace()
            if (i < s.length && s[i] == '}') {
                i++
                return out
            }
            while (true) {
                skipSpace()
                if (atEnd() || s[i] != '"') throw error("expected a key")
                val key = string()
                skipSpace()
                if (atEnd() || s[i] != ':') throw error("expected ':'")
                i++
                skipSpace()
                out[key] = value()
                skipSpace()
                if (atEnd()) throw error("unterminated object")
                if (s[i] == ',') {
                    i++
                } else if (s[i] == '}') {
                    i++
                    return out
                } else {
                    throw error("expected ',' or '}'")
                }
            }
        }

        fun array(): List<Any?> {
            val out = ArrayList<Any?>()
            i++
            skipSpace()
            if (i < s.length && s[i] == ']') {
                i++
                return out
            }
            while (true) {
                skipSpace()
                out.add(value())
                skipSpace()
                if (atEnd()) throw error("unterminated array")
                if (s[i] == ',') {
                    i++
                } else if (s[i] == ']') {
                    i++
                    return out
                } else {
                    throw error("expected ',' or ']'")
                }
            }
        }

        fun string(): String {
            val sb = StringBuilder()
            i++
            while (true) {
                if (atEnd()) throw error("unterminated string")
                val c = s[i++]
                when (c) {
                    '"' -> {
                        return sb.toString()
                    }

                    '\\' -> {
                        if (atEnd()) throw error("unterminated escape")
                        when (val e = s[i++]) {
                            '"', '\\', '/' -> {
                                sb.append(e)
                            }

                            'b' -> {
                                sb.append('\b')
                            }

                            'f' -> {
                                sb.append('\u000c')
                            }

                            'n' -> {
                                sb.append('\n')
                            }

                            'r' -> {
                                sb.append('\r')
                            }

                            't' -> {
                                sb.append('\t')
                            }

                            'u' -> {
                                if (i + 4 > s.length) throw error("short \\u escape")
                                sb.append(s.substring(i, i + 4).toInt(16).toChar())
                                i += 4
                            }

                            else -> {
                                throw error("bad escape \\$e")
                            }
                        }
                    }

                    else -> {
                        sb.append(c)
                    }
                }
            }
        }

        fun number(): Double {
            val start = i
            if (s[i] == '-') i++
            while (i < s.length && (s[i].isDigit() || s[i] in ".eE+-")) i++
            val text = s.substring(start, i)
            return text.toDoubleOrNull() ?: throw error("bad number '$text'")
        }
    }
}

/** Typed access to a parsed JSON object, with errors that name the missing or malformed field. */
class JsonObject(
    val map: Map<String, Any?>,
    private val where: String,
) {
    fun has(key: String) = map[key] != null

    fun raw(key: String): Any? = map[key]

    fun obj(key: String): JsonObject =
        JsonObject(
            map[key] as? Map<String, Any?> ?: throw FormatError("$where: '$key' must be an object"),
            "$where.$key",
        )

    fun objOrNull(key: String): JsonObject? = if (map[key] == null) null else obj(key)

    fun string(key: String): String = map[key] as? String ?: throw FormatError("$where: '$key' must be a string")

    fun stringOrNull(key: String): String? = map[key] as? String

    fun double(key: String): Double = map[key] as? Double ?: throw FormatError("$where: '$key' must be a number")

    fun doubleOrNull(key: String): Double? = map[key] as? Double

    fun int(key: String): Int = toInt(map[key], key)

    fun intOrNull(key: String): Int? = if (map[key] == null) null else int(key)

    fun list(key: String): List<Any?> = map[key] as? List<Any?> ?: throw FormatError("$where: '$key' must be a list")

    fun objects(key: String): List<JsonObject> =
        list(key).mapIndexed { k, v ->
            JsonObject(v as? Map<String, Any?> ?: throw FormatError("$where.$key[$k] must be an object"), "$where.$key[$k]")
        }

    fun ints(key: String): IntArray = list(key).map { toInt(it, key) }.toIntArray()

    fun doubles(key: String): DoubleArray =
        list(key).map { it as? Double ?: throw FormatError("$where: '$key' must hold numbers") }.toDoubleArray()

    private fun toInt(
        v: Any?,
        key: String,
    ): Int {
        val d = v as? Double ?: throw FormatError("$where: '$key' must be an integer")
        if (d != Math.floor(d) || d > Int.MAX_VALUE || d < Int.MIN_VALUE) throw FormatError("$where: '$key' must be an integer")
        return d.toInt()
    }

    companion object {
        fun parse(
            text: String,
            where: String,
        ): JsonObject {
            val v = Json.parse(text)
            return JsonObject(v as? Map<String, Any?> ?: throw FormatError("$where: not a JSON object"), where)
        }
    }
}

/** A file the core was given is not what it should be (malformed JSON, .npy, manifest). */
class FormatError(
    message: String,
) : Exception(message)
