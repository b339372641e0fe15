"""Examples of bots built on Botdesk."""
