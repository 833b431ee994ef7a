"""Message transport: in-memory broker and RabbitMQ (pika), topology."""
