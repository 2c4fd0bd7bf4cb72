// Only `prisma dev` loads @prisma/streams-local (to start its durable streams server), and the real package needs
// Node 22. Signalpost never runs `prisma dev`, so this stand-in exists only to say so if something ever does.
throw new Error("@prisma/streams-local is not installed: `prisma dev` is not used by Signalpost (it needs Node 22)");
