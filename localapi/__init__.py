"""Local stand-ins for the platforms SiKesal talks to.

The real Telegram (and WhatsApp/Twilio) endpoints are unreachable from test and CI machines, so the
end-to-end tests, the benchmark and the browser playground run the real client libraries against
these in-process HTTP servers, which imitate the documented behaviour of the platforms.
"""
