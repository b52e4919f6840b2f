"""URLs of the chat app."""

from django.urls import path

from persona_chat import views

urlpatterns = [
    path("chat/", views.chat, name="chat"),
    path("chat/async/", views.chat_async, name="chat-async"),
]
