"""The domain: concepts, states, schedule math and policies. No I/O here."""
