// An MQTT subscriber (libmosquitto, its own thread) for tests and benchmarks: QoS 1 on one topic
// filter, every message kept with the time it arrived, reconnecting every second when the
// broker goes away. With a client id it keeps a persistent session (clean session off): what
// the broker queued for it while it was away arrives when it is back.
#pragma once

#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace vitalsd::test {

class MqttSubscriber {
 public:
  struct Message {
    std::string topic;
    std::string payload;
    bool retained = false;
    std::chrono::steady_clock::time_point at;
  };
  struct Options {
    std::string client_id;                           // set: persistent session
    std::function<void(const Message&)> on_message;  // also called, on libmosquitto's thread
  };
  MqttSubscriber(const std::string& host, int port, std::string filter)
      : MqttSubscriber(host, port, std::move(filter), Options{}) {}
  MqttSubscriber(const std::string& host, int port, std::string filter, Options options)
      : filter_(std::move(filter)), options_(std::move(options)) {
    mosquitto_lib_init();
    const bool clean = options_.client_id.empty();
    mosq_ = mosquitto_new(clean ? nullptr : options_.client_id.c_str(), clean, this);
    mosquitto_connect_callback_set(mosq_, [](mosquitto* m, void* obj, int rc) {
      auto* self = static_cast<MqttSubscriber*>(obj);
      if (rc == 0) mosquitto_subscribe(m, nullptr, self->filter_.c_str(), 1);
    });
    mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* obj, int, int, const int*) {
      static_cast<MqttSubscriber*>(obj)->subscribed_ = true;
    });
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* obj, const mosquitto_message* m) {
      auto* self = static_cast<MqttSubscriber*>(obj);
      Message msg{m->topic,
                  std::string(static_cast<const char*>(m->payload),
                              static_cast<std::size_t>(m->payloadlen)),
                  m->retain, std::chrono::steady_clock::now()};
      if (self->options_.on_message) self->options_.on_message(msg);
      std::lock_guard lock(self->mutex_);
      self->messages_.push_back(std::move(msg));
    });
    mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
    mosquitto_connect_async(mosq_, host.c_str(), port, 30);
    mosquitto_loop_start(mosq_);
  }
  ~MqttSubscriber() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, true);
    mosquitto_destroy(mosq_);
  }
  MqttSubscriber(const MqttSubscriber&) = delete;
  MqttSubscriber& operator=(const MqttSubscriber&) = delete;

  bool subscribed() const { return subscribed_; }
  std::vector<Message> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::string filter_;
  Options options_;
  mosquitto* mosq_ = nullptr;
  std::atomic<bool> subscribed_{false};
  std::mutex mutex_;
  std::vector<Message> messages_;
};

}  // namespace vitalsd::test
